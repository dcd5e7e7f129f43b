//! SCIM filters (RFC 7644 §3.4.2.2) and the `sortBy` order (RFC 7644 §3.4.2.3).
//!
//! This module owns parsing filters into an AST, validating and evaluating them against a
//! canonical resource (see [`crate::scim::attr`]), and printing them canonically.
//!
//! The parser is a hand-written recursive descent over a small lexer. Precedence, highest
//! first: grouping, `not`, `and`, `or`. Operators and the keywords `and`, `or`, `not`,
//! `true`, `false`, `null` match case-insensitively. Input is bounded by [`MAX_LEN`],
//! [`MAX_DEPTH`] and [`MAX_TERMS`] so that hostile filters cannot exhaust the stack.
//! Error messages carry byte offsets and attribute names, never literal values.
//!
//! Evaluation rules:
//! - an attribute the resource type does not define is an error (`invalidFilter`), not a
//!   silent non-match, so that a misspelt filter cannot look like "no such user";
//! - a path without URN that names no core or common attribute is looked up in the
//!   extensions ([`resolve_lenient`]), since Entra filters on `manager eq "…"`;
//! - a multi-valued attribute matches when any of its values matches;
//! - a comparison on a complex attribute without a sub-attribute (`emails co "@x"`,
//!   `manager eq "id"`) compares its `value` sub-attribute;
//! - strings compare case-insensitively unless the attribute is `caseExact`; `binary` is
//!   always compared exactly;
//! - `dateTime` compares chronologically, numbers numerically; ordering operators on
//!   `boolean` or `binary` are rejected.
//!
//! # Known limitations
//! - `eq null` means "not present" and `ne null` means "present"; no other operator takes
//!   `null`.
//! - `ne` holds when no value is equal, so it also matches resources without the attribute.
//! - `co`, `sw` and `ew` on a `dateTime` compare the stored text, not instants.
//! - Value filters cannot nest (errata 4670/7322) and their paths name one sub-attribute
//!   of the enclosing attribute; sub-attributes nest one level only.
//! - Unquoted values (sent by Microsoft's Postman collection) are rejected. Decoding `+` to a
//!   space in query strings is the web layer's job.
//! - `schemas` is filterable even when the resource type does not declare it (as a
//!   multi-valued, case-insensitive string).

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset};
use serde_json::{Number, Value};

use crate::scim::attr::{
    AttrDef, AttrPath, AttrType, Mutability, Resolved, ResourceTypeDef, Returned, Uniqueness,
};

/// Longest filter accepted, in characters.
pub const MAX_LEN: usize = 4096;

/// Deepest nesting of `( … )`, `not ( … )` and `[ … ]` accepted.
pub const MAX_DEPTH: usize = 32;

/// Most attribute expressions (comparisons and `pr`) accepted in one filter.
pub const MAX_TERMS: usize = 256;

/// Why a filter was rejected; every variant maps to scimType `invalidFilter`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The text does not follow the filter grammar (scimType `invalidFilter`).
    #[error("invalid filter at offset {offset}: {reason}")]
    Syntax {
        /// Byte offset of the offending token.
        offset: usize,
        /// What was expected or found, without echoing values.
        reason: &'static str,
    },
    /// The filter exceeds the length, nesting or term budget (scimType `invalidFilter`).
    #[error("filter too complex: {0}")]
    TooComplex(&'static str),
    /// The filter names an attribute the resource type does not define (scimType
    /// `invalidFilter`).
    #[error("unknown attribute `{0}` in filter")]
    UnknownAttribute(String),
    /// The operator or operand does not fit the attribute's type (scimType `invalidFilter`).
    #[error("unsupported comparison on `{attr}`: {reason}")]
    Unsupported {
        /// The attribute path as written.
        attr: String,
        /// What is wrong, without echoing values.
        reason: &'static str,
    },
}

impl Error {
    /// The RFC 7644 §3.12 `scimType` for this error.
    pub fn scim_type(&self) -> &'static str {
        match self {
            Self::Syntax { .. }
            | Self::TooComplex(_)
            | Self::UnknownAttribute(_)
            | Self::Unsupported { .. } => "invalidFilter",
        }
    }
}

/// An attribute operator (RFC 7644 §3.4.2.2, Table 3), `pr` excepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// `eq`: equal.
    Eq,
    /// `ne`: not equal.
    Ne,
    /// `co`: contains.
    Co,
    /// `sw`: starts with.
    Sw,
    /// `ew`: ends with.
    Ew,
    /// `gt`: greater than.
    Gt,
    /// `ge`: greater than or equal.
    Ge,
    /// `lt`: less than.
    Lt,
    /// `le`: less than or equal.
    Le,
}

impl CompareOp {
    /// The lowercase operator keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Co => "co",
            Self::Sw => "sw",
            Self::Ew => "ew",
            Self::Gt => "gt",
            Self::Ge => "ge",
            Self::Lt => "lt",
            Self::Le => "le",
        }
    }

    /// Parses an operator keyword, ignoring case.
    pub fn from_keyword(word: &str) -> Option<Self> {
        [
            Self::Eq,
            Self::Ne,
            Self::Co,
            Self::Sw,
            Self::Ew,
            Self::Gt,
            Self::Ge,
            Self::Lt,
            Self::Le,
        ]
        .into_iter()
        .find(|op| op.as_str().eq_ignore_ascii_case(word))
    }

    fn is_ordering(self) -> bool {
        matches!(self, Self::Gt | Self::Ge | Self::Lt | Self::Le)
    }

    fn is_substring(self) -> bool {
        matches!(self, Self::Co | Self::Sw | Self::Ew)
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed filter expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// All of the operands hold (two or more).
    And(Vec<Filter>),
    /// Any of the operands holds (two or more).
    Or(Vec<Filter>),
    /// The operand does not hold.
    Not(Box<Filter>),
    /// `path pr`: the attribute has a non-empty value.
    Present(AttrPath),
    /// `path op value`, where `value` is a JSON string, number, boolean or `null`.
    Compare {
        /// The attribute compared.
        path: AttrPath,
        /// The operator.
        op: CompareOp,
        /// The literal operand.
        value: Value,
    },
    /// `path[filter]`: some value of a complex attribute satisfies `filter`.
    ValuePath {
        /// The complex attribute, without a sub-attribute.
        path: AttrPath,
        /// The condition on one value; its paths name sub-attributes of `path`.
        filter: Box<Filter>,
    },
}

impl FromStr for Filter {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse(text)
    }
}

/// Parses a filter such as `userName eq "bjensen" and emails[type eq "work"]`.
pub fn parse(text: &str) -> Result<Filter, Error> {
    let mut parser = Parser::new(text)?;

    let filter = parser.or_expr(false)?;

    parser.expect_end()?;
    Ok(filter)
}

/// Parses `attr[valFilter]` optionally followed by `.subAttr`, the value-path form of a
/// PATCH path (RFC 7644 §3.5.2), returning the attribute, the filter and the sub-attribute.
pub fn parse_value_path(text: &str) -> Result<(AttrPath, Filter, Option<String>), Error> {
    let mut parser = Parser::new(text)?;

    let (offset, word) = match parser.next() {
        Some(Token {
            offset,
            kind: Tok::Word(word),
        }) => (offset, word),
        other => {
            return Err(syntax(
                other.map(|t| t.offset),
                "expected an attribute path",
            ));
        }
    };
    let path = parser.path(&word, offset, false)?;
    if path.sub.is_some() {
        return Err(syntax(
            Some(offset),
            "a value filter needs an attribute without sub-attribute",
        ));
    }
    let filter = parser.bracketed(offset)?;
    let sub = match parser.next() {
        None => None,
        Some(Token {
            offset,
            kind: Tok::Word(word),
        }) if word.starts_with('.') => Some(parser.dot_sub(&word, offset)?.name),
        Some(token) => return Err(syntax(Some(token.offset), "unexpected token after `]`")),
    };

    parser.expect_end()?;
    Ok((path, filter, sub))
}

// ---------------------------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    LBracket,
    RBracket,
    /// A keyword, operator or attribute path; `.sub` after `]` starts with a dot.
    Word(String),
    Str(String),
    Num(Number),
}

#[derive(Debug, Clone)]
struct Token {
    offset: usize,
    kind: Tok,
}

fn syntax(offset: Option<usize>, reason: &'static str) -> Error {
    Error::Syntax {
        offset: offset.unwrap_or(0),
        reason,
    }
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '$' | '-' | '_')
}

fn lex(text: &str) -> Result<Vec<Token>, Error> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut at = 0;
    while let Some(c) = text[at..].chars().next() {
        let start = at;
        let single = match c {
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            '[' => Some(Tok::LBracket),
            ']' => Some(Tok::RBracket),
            _ => None,
        };
        if let Some(kind) = single {
            tokens.push(Token {
                offset: start,
                kind,
            });
            at += 1;
        } else if c.is_whitespace() {
            at += c.len_utf8();
        } else if c == '"' {
            let end = string_end(bytes, start)
                .ok_or_else(|| syntax(Some(start), "unterminated string"))?;
            let decoded: String = serde_json::from_str(&text[start..=end])
                .map_err(|_| syntax(Some(start), "invalid string literal"))?;
            tokens.push(Token {
                offset: start,
                kind: Tok::Str(decoded),
            });
            at = end + 1;
        } else if c.is_ascii_digit() || c == '-' {
            at = scan(text, at, |c| {
                c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-')
            });
            let number = parse_number(&text[start..at])
                .ok_or_else(|| syntax(Some(start), "invalid number"))?;
            tokens.push(Token {
                offset: start,
                kind: Tok::Num(number),
            });
        } else if c.is_ascii_alphabetic() || c == '$' || c == '.' {
            at = scan(text, at, is_word_char);
            tokens.push(Token {
                offset: start,
                kind: Tok::Word(text[start..at].to_owned()),
            });
        } else {
            return Err(syntax(Some(start), "unexpected character"));
        }
    }
    Ok(tokens)
}

/// Parses a JSON number (RFC 8259 §6) with correctly rounded floats, so that printing and
/// parsing again yields the same value.
fn parse_number(text: &str) -> Option<Number> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(index) => (&unsigned[..index], Some(&unsigned[index + 1..])),
        None => (unsigned, None),
    };
    let (whole, fraction) = match mantissa.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (mantissa, None),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
    let whole_ok = digits(whole) && (whole == "0" || !whole.starts_with('0'));
    if !whole_ok || !fraction.is_none_or(digits) || !exponent_ok {
        return None;
    }

    if fraction.is_none() && exponent.is_none() {
        if let Ok(int) = text.parse::<i64>() {
            return Some(Number::from(int));
        }
        if let Ok(int) = text.parse::<u64>() {
            return Some(Number::from(int));
        }
    }
    Number::from_f64(text.parse::<f64>().ok()?)
}

/// Byte index of the quote closing the string that opens at `start`.
fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut at = start + 1;
    while let Some(&byte) = bytes.get(at) {
        match byte {
            b'\\' => at += 2,
            b'"' => return Some(at),
            _ => at += 1,
        }
    }
    None
}

/// Byte index just past the run of characters accepted by `keep`, starting at `at`.
fn scan(text: &str, at: usize, keep: impl Fn(char) -> bool) -> usize {
    text[at..]
        .char_indices()
        .find(|&(_, c)| !keep(c))
        .map_or(text.len(), |(index, _)| at + index)
}

// ---------------------------------------------------------------------------------------------
// Parser

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    depth: usize,
    terms: usize,
}

impl Parser {
    fn new(text: &str) -> Result<Self, Error> {
        if text.len() > MAX_LEN * 4 || text.chars().count() > MAX_LEN {
            return Err(Error::TooComplex("longer than 4096 characters"));
        }
        let tokens = lex(text)?;
        if tokens.is_empty() {
            return Err(syntax(Some(0), "empty filter"));
        }
        Ok(Self {
            tokens,
            at: 0,
            depth: 0,
            terms: 0,
        })
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn peek_kind(&self, ahead: usize) -> Option<&Tok> {
        self.tokens.get(self.at + ahead).map(|token| &token.kind)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        if token.is_some() {
            self.at += 1;
        }
        token
    }

    fn offset(&self) -> usize {
        self.peek().map_or_else(
            || self.tokens.last().map_or(0, |t| t.offset + 1),
            |t| t.offset,
        )
    }

    fn expect_end(&self) -> Result<(), Error> {
        match self.peek() {
            None => Ok(()),
            Some(token) => Err(syntax(Some(token.offset), "unexpected token")),
        }
    }

    fn expect(&mut self, kind: &Tok, reason: &'static str) -> Result<(), Error> {
        if self.peek_kind(0) == Some(kind) {
            self.at += 1;
            Ok(())
        } else {
            Err(syntax(Some(self.offset()), reason))
        }
    }

    fn at_keyword(&self, keyword: &str) -> bool {
        match self.peek_kind(0) {
            Some(Tok::Word(word)) => word.eq_ignore_ascii_case(keyword),
            _ => false,
        }
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        let found = self.at_keyword(keyword);
        if found {
            self.at += 1;
        }
        found
    }

    fn enter(&mut self) -> Result<(), Error> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Error::TooComplex("nested deeper than 32 levels"));
        }
        Ok(())
    }

    fn or_expr(&mut self, relative: bool) -> Result<Filter, Error> {
        let first = self.and_expr(relative)?;
        if !self.at_keyword("or") {
            return Ok(first);
        }

        let mut items = vec![first];
        while self.eat_keyword("or") {
            items.push(self.and_expr(relative)?);
        }
        Ok(Filter::Or(items))
    }

    fn and_expr(&mut self, relative: bool) -> Result<Filter, Error> {
        let first = self.unary(relative)?;
        if !self.at_keyword("and") {
            return Ok(first);
        }

        let mut items = vec![first];
        while self.eat_keyword("and") {
            items.push(self.unary(relative)?);
        }
        Ok(Filter::And(items))
    }

    fn unary(&mut self, relative: bool) -> Result<Filter, Error> {
        let offset = self.offset();
        match self.peek_kind(0) {
            Some(Tok::LParen) => {
                self.at += 1;
                self.grouped(relative)
            }
            Some(Tok::Word(word))
                if word.eq_ignore_ascii_case("not") && self.peek_kind(1) == Some(&Tok::LParen) =>
            {
                self.at += 2;
                Ok(Filter::Not(Box::new(self.grouped(relative)?)))
            }
            Some(Tok::Word(word)) => {
                let word = word.clone();
                self.at += 1;
                self.attr_expr(&word, offset, relative)
            }
            _ => Err(syntax(
                Some(offset),
                "expected an attribute path, `(` or `not`",
            )),
        }
    }

    /// The rest of `( expr )` once the opening parenthesis is consumed.
    fn grouped(&mut self, relative: bool) -> Result<Filter, Error> {
        self.enter()?;
        let inner = self.or_expr(relative)?;
        self.expect(&Tok::RParen, "expected `)`")?;
        self.depth -= 1;
        Ok(inner)
    }

    /// `[ valFilter ]`, starting at the opening bracket.
    fn bracketed(&mut self, offset: usize) -> Result<Filter, Error> {
        self.expect(&Tok::LBracket, "expected `[`")?;
        self.enter()?;
        if self.peek_kind(0) == Some(&Tok::RBracket) {
            return Err(syntax(Some(offset), "empty value filter"));
        }
        let inner = self.or_expr(true)?;
        self.expect(&Tok::RBracket, "expected `]`")?;
        self.depth -= 1;
        Ok(inner)
    }

    fn path(&self, word: &str, offset: usize, relative: bool) -> Result<AttrPath, Error> {
        if word.starts_with('.') {
            return Err(syntax(Some(offset), "unexpected `.`"));
        }
        let path =
            AttrPath::parse(word).map_err(|_| syntax(Some(offset), "invalid attribute path"))?;
        if relative && (path.urn.is_some() || path.sub.is_some()) {
            return Err(syntax(
                Some(offset),
                "a value filter path must name one sub-attribute",
            ));
        }
        Ok(path)
    }

    /// The sub-attribute of `.sub` written after a closing bracket.
    fn dot_sub(&self, word: &str, offset: usize) -> Result<AttrPath, Error> {
        let name = word.strip_prefix('.').unwrap_or(word);
        self.path(name, offset, true)
    }

    fn attr_expr(&mut self, word: &str, offset: usize, relative: bool) -> Result<Filter, Error> {
        let path = self.path(word, offset, relative)?;
        if self.peek_kind(0) != Some(&Tok::LBracket) {
            return self.operation(path);
        }

        if relative {
            return Err(syntax(Some(offset), "value filters cannot nest"));
        }
        if path.sub.is_some() {
            return Err(syntax(
                Some(offset),
                "a value filter needs an attribute without sub-attribute",
            ));
        }
        let mut filter = self.bracketed(offset)?;

        // Entra's `emails[type eq "work"].value eq "x"`: fold the trailing comparison in.
        if let Some(Tok::Word(next)) = self.peek_kind(0)
            && next.starts_with('.')
        {
            let next = next.clone();
            let sub_offset = self.offset();
            self.at += 1;
            let sub = self.dot_sub(&next, sub_offset)?;
            let tail = self.operation(sub)?;
            filter = match filter {
                Filter::And(mut items) => {
                    items.push(tail);
                    Filter::And(items)
                }
                other => Filter::And(vec![other, tail]),
            };
        }
        Ok(Filter::ValuePath {
            path,
            filter: Box::new(filter),
        })
    }

    /// `pr`, or an operator and its literal, after a path.
    fn operation(&mut self, path: AttrPath) -> Result<Filter, Error> {
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(Error::TooComplex("more than 256 attribute expressions"));
        }

        let offset = self.offset();
        let op = match self.next() {
            Some(Token {
                kind: Tok::Word(word),
                ..
            }) => {
                if word.eq_ignore_ascii_case("pr") {
                    return Ok(Filter::Present(path));
                }
                CompareOp::from_keyword(&word)
                    .ok_or_else(|| syntax(Some(offset), "expected an operator"))?
            }
            _ => return Err(syntax(Some(offset), "expected an operator")),
        };

        let offset = self.offset();
        let value = match self.next().map(|token| token.kind) {
            Some(Tok::Str(text)) => Value::String(text),
            Some(Tok::Num(number)) => Value::Number(number),
            Some(Tok::Word(word)) if word.eq_ignore_ascii_case("true") => Value::Bool(true),
            Some(Tok::Word(word)) if word.eq_ignore_ascii_case("false") => Value::Bool(false),
            Some(Tok::Word(word)) if word.eq_ignore_ascii_case("null") => Value::Null,
            _ => {
                return Err(syntax(
                    Some(offset),
                    "expected a quoted string, number, true, false or null",
                ));
            }
        };
        Ok(Filter::Compare { path, op, value })
    }
}

// ---------------------------------------------------------------------------------------------
// Display

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::And(items) => write_joined(f, items, " and ", |item| {
                matches!(item, Self::And(_) | Self::Or(_))
            }),
            Self::Or(items) => write_joined(f, items, " or ", |item| matches!(item, Self::Or(_))),
            Self::Not(inner) => write!(f, "not ({inner})"),
            Self::Present(path) => write!(f, "{path} pr"),
            Self::Compare { path, op, value } => write!(f, "{path} {op} {value}"),
            Self::ValuePath { path, filter } => write!(f, "{path}[{filter}]"),
        }
    }
}

fn write_joined(
    f: &mut fmt::Formatter<'_>,
    items: &[Filter],
    separator: &str,
    needs_parens: impl Fn(&Filter) -> bool,
) -> fmt::Result {
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            f.write_str(separator)?;
        }
        if needs_parens(item) {
            write!(f, "({item})")?;
        } else {
            write!(f, "{item}")?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/// `schemas` is filterable on every resource type even when no schema declares it.
static SCHEMAS_ATTR: AttrDef = AttrDef {
    name: "schemas",
    kind: AttrType::Reference,
    multi_valued: true,
    required: true,
    case_exact: false,
    mutability: Mutability::ReadOnly,
    returned: Returned::Always,
    uniqueness: Uniqueness::None,
    canonical_values: &[],
    reference_types: &["uri"],
    sub_attributes: &[],
    description: "Schema URNs of the resource.",
};

/// What the paths of a filter are relative to.
#[derive(Clone, Copy)]
enum Scope<'a> {
    /// A whole resource of this type.
    Resource(&'a ResourceTypeDef),
    /// One value of this complex attribute (inside `[ … ]`).
    Element(&'static AttrDef),
}

/// Resolves `path` like [`ResourceTypeDef::resolve`], and then, for a path without URN
/// that names no core or common attribute, in the extensions when exactly one defines it.
///
/// Entra filters on `manager eq "…"` without the enterprise URN (reference §3.2).
pub fn resolve_lenient(rt: &ResourceTypeDef, path: &AttrPath) -> Option<Resolved> {
    if let Some(resolved) = rt.resolve(path) {
        return Some(resolved);
    }
    if path.urn.is_some() {
        return None;
    }
    let mut found = rt.extensions.iter().filter_map(|(schema, _)| {
        let qualified = AttrPath {
            urn: Some(schema.id.to_owned()),
            ..path.clone()
        };
        rt.resolve(&qualified)
    });
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

impl Scope<'_> {
    fn resolve(self, path: &AttrPath) -> Result<Resolved, Error> {
        let unknown = || Error::UnknownAttribute(path.to_string());
        match self {
            Self::Resource(rt) => resolve_lenient(rt, path)
                .or_else(|| {
                    (path.urn.is_none()
                        && path.sub.is_none()
                        && path.name.eq_ignore_ascii_case("schemas"))
                    .then_some(Resolved {
                        extension: None,
                        attr: &SCHEMAS_ATTR,
                        sub: None,
                    })
                })
                .ok_or_else(unknown),
            Self::Element(parent) => {
                if path.urn.is_some() || path.sub.is_some() {
                    return Err(unknown());
                }
                let attr = parent.sub(&path.name).ok_or_else(unknown)?;
                Ok(Resolved {
                    extension: None,
                    attr,
                    sub: None,
                })
            }
        }
    }
}

impl Filter {
    /// Checks every attribute and operator against `rt`, whether or not evaluation would
    /// reach it.
    pub fn validate(&self, rt: &ResourceTypeDef) -> Result<(), Error> {
        self.check(Scope::Resource(rt))
    }

    /// Checks a value filter whose paths name sub-attributes of the complex `attr`.
    pub fn validate_value(&self, attr: &'static AttrDef) -> Result<(), Error> {
        self.check(Scope::Element(attr))
    }

    /// Tells whether a canonical resource of type `rt` satisfies this filter.
    pub fn matches(&self, resource: &Value, rt: &ResourceTypeDef) -> Result<bool, Error> {
        self.validate(rt)?;
        self.eval(Scope::Resource(rt), resource)
    }

    /// Tells whether one value of the complex attribute `attr` satisfies this value filter.
    pub fn matches_value(&self, element: &Value, attr: &'static AttrDef) -> Result<bool, Error> {
        self.validate_value(attr)?;
        self.eval(Scope::Element(attr), element)
    }

    fn check(&self, scope: Scope<'_>) -> Result<(), Error> {
        match self {
            Self::And(items) | Self::Or(items) => {
                items.iter().try_for_each(|item| item.check(scope))
            }
            Self::Not(inner) => inner.check(scope),
            Self::Present(path) => scope.resolve(path).map(|_| ()),
            Self::Compare { path, op, value } => {
                let resolved = scope.resolve(path)?;
                check_comparison(path, &resolved, *op, value)
            }
            Self::ValuePath { path, filter } => {
                let unsupported = |reason| Error::Unsupported {
                    attr: path.to_string(),
                    reason,
                };
                if matches!(scope, Scope::Element(_)) {
                    return Err(unsupported("value filters cannot nest"));
                }
                let resolved = scope.resolve(path)?;
                if resolved.sub.is_some() || resolved.attr.kind != AttrType::Complex {
                    return Err(unsupported("a value filter needs a complex attribute"));
                }
                filter.check(Scope::Element(resolved.attr))
            }
        }
    }

    fn eval(&self, scope: Scope<'_>, node: &Value) -> Result<bool, Error> {
        match self {
            Self::And(items) => {
                for item in items {
                    if !item.eval(scope, node)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Self::Or(items) => {
                for item in items {
                    if item.eval(scope, node)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Self::Not(inner) => Ok(!inner.eval(scope, node)?),
            Self::Present(path) => {
                let resolved = scope.resolve(path)?;
                let values = if resolved.sub.is_none() && resolved.attr.kind == AttrType::Complex {
                    attr_values(node, &resolved)
                } else {
                    operand_values(node, &resolved)
                };
                Ok(values.into_iter().any(is_non_empty))
            }
            Self::Compare { path, op, value } => {
                let resolved = scope.resolve(path)?;
                let Some(def) = operand_def(&resolved) else {
                    return Ok(false);
                };
                let values = operand_values(node, &resolved);
                Ok(match (op, value) {
                    (CompareOp::Eq, Value::Null) => !values.into_iter().any(is_non_empty),
                    (CompareOp::Ne, Value::Null) => values.into_iter().any(is_non_empty),
                    (CompareOp::Ne, _) => !values
                        .into_iter()
                        .any(|stored| compare(def, CompareOp::Eq, stored, value)),
                    _ => values
                        .into_iter()
                        .any(|stored| compare(def, *op, stored, value)),
                })
            }
            Self::ValuePath { path, filter } => {
                let resolved = scope.resolve(path)?;
                let scope = Scope::Element(resolved.attr);
                for element in attr_values(node, &resolved) {
                    if filter.eval(scope, element)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
        }
    }
}

/// The definition whose values a comparison looks at: the sub-attribute, the `value`
/// sub-attribute of a complex attribute, or the attribute itself.
fn operand_def(resolved: &Resolved) -> Option<&'static AttrDef> {
    match resolved.sub {
        Some(sub) => Some(sub),
        None if resolved.attr.kind == AttrType::Complex => resolved.attr.sub("value"),
        None => Some(resolved.attr),
    }
}

fn check_comparison(
    path: &AttrPath,
    resolved: &Resolved,
    op: CompareOp,
    value: &Value,
) -> Result<(), Error> {
    let unsupported = |reason| {
        Err(Error::Unsupported {
            attr: path.to_string(),
            reason,
        })
    };
    let Some(def) = operand_def(resolved) else {
        return unsupported("comparing a complex attribute needs a sub-attribute");
    };
    if value.is_null() {
        return match op {
            CompareOp::Eq | CompareOp::Ne => Ok(()),
            _ => unsupported("only eq and ne take null"),
        };
    }

    match def.kind {
        AttrType::Boolean => {
            if op != CompareOp::Eq && op != CompareOp::Ne {
                return unsupported("only eq and ne apply to a boolean");
            }
            if boolean_operand(value).is_none() {
                return unsupported("expected a boolean operand");
            }
        }
        AttrType::Integer | AttrType::Decimal => {
            if op.is_substring() {
                return unsupported("co, sw and ew do not apply to a number");
            }
            if !value.is_number() {
                return unsupported("expected a number operand");
            }
        }
        AttrType::DateTime => {
            let Some(text) = value.as_str() else {
                return unsupported("expected a date-time string operand");
            };
            if !op.is_substring() && parse_instant(text).is_none() {
                return unsupported("expected an RFC 3339 date-time operand");
            }
        }
        AttrType::Binary if op.is_ordering() => {
            return unsupported("ordering does not apply to binary");
        }
        AttrType::String | AttrType::Reference | AttrType::Binary => {
            if !value.is_string() {
                return unsupported("expected a string operand");
            }
        }
        AttrType::Complex => {
            return unsupported("comparing a complex attribute needs a sub-attribute");
        }
    }
    Ok(())
}

fn boolean_operand(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(flag) => Some(*flag),
        Value::String(text) => match text.trim().to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn parse_instant(text: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(text).ok()
}

/// Looks a key up exactly, then ignoring ASCII case.
fn get_key<'v>(node: &'v Value, key: &str) -> Option<&'v Value> {
    let object = node.as_object()?;
    object.get(key).or_else(|| {
        object
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(key))
            .map(|(_, value)| value)
    })
}

/// Array elements, or the value itself; `null` counts as nothing.
fn spread(value: Option<&Value>) -> Vec<&Value> {
    match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().filter(|item| !item.is_null()).collect(),
        Some(other) => vec![other],
    }
}

/// The values of the resolved top-level attribute (elements, for a multi-valued one).
fn attr_values<'v>(node: &'v Value, resolved: &Resolved) -> Vec<&'v Value> {
    let container = match resolved.extension {
        Some(urn) => get_key(node, urn),
        None => Some(node),
    };
    spread(container.and_then(|container| get_key(container, resolved.attr.name)))
}

/// The values a comparison looks at (see [`operand_def`]).
fn operand_values<'v>(node: &'v Value, resolved: &Resolved) -> Vec<&'v Value> {
    let values = attr_values(node, resolved);
    let sub = match resolved.sub {
        Some(sub) => sub.name,
        None if resolved.attr.kind == AttrType::Complex => "value",
        None => return values,
    };
    values
        .into_iter()
        .flat_map(|value| spread(get_key(value, sub)))
        .collect()
}

fn is_non_empty(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(text) => !text.is_empty(),
        Value::Array(items) => items.iter().any(is_non_empty),
        Value::Object(fields) => fields.values().any(is_non_empty),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

/// Compares one stored value with the operand; a stored value of the wrong type never
/// matches.
fn compare(def: &AttrDef, op: CompareOp, stored: &Value, operand: &Value) -> bool {
    match def.kind {
        AttrType::Boolean => match (stored.as_bool(), boolean_operand(operand)) {
            (Some(left), Some(right)) => ordering_holds(op, left.cmp(&right)),
            _ => false,
        },
        AttrType::Integer | AttrType::Decimal => match (stored, operand) {
            (Value::Number(left), Value::Number(right)) => {
                compare_numbers(left, right).is_some_and(|order| ordering_holds(op, order))
            }
            _ => false,
        },
        AttrType::DateTime if !op.is_substring() => {
            let left = stored.as_str().and_then(parse_instant);
            let right = operand.as_str().and_then(parse_instant);
            match (left, right) {
                (Some(left), Some(right)) => ordering_holds(op, left.cmp(&right)),
                _ => false,
            }
        }
        _ => match (stored.as_str(), operand.as_str()) {
            (Some(left), Some(right)) => {
                let exact = def.case_exact || def.kind == AttrType::Binary;
                compare_text(op, left, right, exact)
            }
            _ => false,
        },
    }
}

fn compare_text(op: CompareOp, left: &str, right: &str, exact: bool) -> bool {
    let (left, right) = if exact {
        (left.to_owned(), right.to_owned())
    } else {
        (left.to_lowercase(), right.to_lowercase())
    };
    match op {
        CompareOp::Co => left.contains(&right),
        CompareOp::Sw => left.starts_with(&right),
        CompareOp::Ew => left.ends_with(&right),
        _ => ordering_holds(op, left.cmp(&right)),
    }
}

fn compare_numbers(left: &Number, right: &Number) -> Option<Ordering> {
    match (left.as_i64(), right.as_i64()) {
        (Some(left), Some(right)) => Some(left.cmp(&right)),
        _ => left.as_f64()?.partial_cmp(&right.as_f64()?),
    }
}

/// Whether `left op right` holds given how `left` orders against `right`. Substring
/// operators never reach here.
fn ordering_holds(op: CompareOp, order: Ordering) -> bool {
    match op {
        CompareOp::Eq => order.is_eq(),
        CompareOp::Ne => order.is_ne(),
        CompareOp::Gt => order.is_gt(),
        CompareOp::Ge => order.is_ge(),
        CompareOp::Lt => order.is_lt(),
        CompareOp::Le => order.is_le(),
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Sorting

/// A sort key extracted from one resource.
#[derive(Debug, PartialEq, PartialOrd)]
enum SortKey {
    Bool(bool),
    Number(f64),
    Instant(DateTime<FixedOffset>),
    Text(String),
}

/// Orders two canonical resources by `path` for `sortBy` (RFC 7644 §3.4.2.3), ascending.
///
/// Strings compare case-insensitively unless `caseExact`; a multi-valued attribute sorts by
/// its `primary` value, else its first; a complex attribute without a sub-attribute sorts by
/// its `value`. Resources without a value sort after those with one. The caller reverses
/// the result for `descending` and breaks ties (e.g. by `id`).
pub fn compare_for_sort(
    a: &Value,
    b: &Value,
    path: &AttrPath,
    rt: &ResourceTypeDef,
) -> Result<Ordering, Error> {
    let resolved = Scope::Resource(rt).resolve(path)?;
    let Some(def) = operand_def(&resolved) else {
        return Err(Error::Unsupported {
            attr: path.to_string(),
            reason: "sorting by a complex attribute needs a sub-attribute",
        });
    };

    let left = sort_key(a, &resolved, def);
    let right = sort_key(b, &resolved, def);

    Ok(match (left, right) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(left), Some(right)) => left.partial_cmp(&right).unwrap_or(Ordering::Equal),
    })
}

fn sort_key(resource: &Value, resolved: &Resolved, def: &AttrDef) -> Option<SortKey> {
    let values = attr_values(resource, resolved);
    let chosen = values
        .iter()
        .find(|value| get_key(value, "primary").and_then(Value::as_bool) == Some(true))
        .or_else(|| values.first())?;
    let value = if resolved.attr.kind == AttrType::Complex {
        get_key(chosen, def.name)?
    } else {
        chosen
    };

    match def.kind {
        AttrType::Boolean => value.as_bool().map(SortKey::Bool),
        AttrType::Integer | AttrType::Decimal => value.as_f64().map(SortKey::Number),
        AttrType::DateTime => value.as_str().and_then(parse_instant).map(SortKey::Instant),
        _ => value.as_str().map(|text| {
            SortKey::Text(if def.case_exact {
                text.to_owned()
            } else {
                text.to_lowercase()
            })
        }),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::scim::fixtures::{ENTERPRISE_URN, GROUP, USER};

    fn cmp(path: &str, op: CompareOp, value: Value) -> Filter {
        Filter::Compare {
            path: AttrPath::parse(path).unwrap(),
            op,
            value,
        }
    }

    fn user() -> Value {
        json!({
            "id": "2819c223-7f76-453a-919d-413861904646",
            "externalId": "Okta-00u1",
            "userName": "Bjensen@Example.com",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "displayName": "Babs Jensen",
            "active": true,
            "loginCount": 42,
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "x509Certificates": [{"value": "TUlJRERE"}],
            "meta": {
                "resourceType": "User",
                "created": "2010-01-23T04:56:22Z",
                "lastModified": "2011-05-13T04:42:34+02:00"
            },
            ENTERPRISE_URN: {
                "department": "Tour Operations",
                "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}
            }
        })
    }

    fn matches(filter: &str) -> bool {
        parse(filter).unwrap().matches(&user(), &USER).unwrap()
    }

    fn eval_err(filter: &str) -> Error {
        parse(filter).unwrap().matches(&user(), &USER).unwrap_err()
    }

    #[test]
    fn a_simple_comparison_parses_into_compare() {
        assert_eq!(
            parse(r#"userName eq "bjensen""#).unwrap(),
            cmp("userName", CompareOp::Eq, json!("bjensen"))
        );
    }

    #[test]
    fn operators_keywords_and_literals_are_case_insensitive() {
        let filter = parse(r#"USERNAME EQ "x" And active Eq TRUE OR title Pr"#).unwrap();
        let expected = Filter::Or(vec![
            Filter::And(vec![
                cmp("USERNAME", CompareOp::Eq, json!("x")),
                cmp("active", CompareOp::Eq, json!(true)),
            ]),
            Filter::Present(AttrPath::core("title")),
        ]);
        assert_eq!(filter, expected);
        assert_eq!(
            parse("a eq Null").unwrap(),
            cmp("a", CompareOp::Eq, Value::Null)
        );
        assert_eq!(
            parse("a ne FALSE").unwrap(),
            cmp("a", CompareOp::Ne, json!(false))
        );
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let filter = parse("a eq 1 or b eq 2 and c eq 3").unwrap();
        assert_eq!(
            filter,
            Filter::Or(vec![
                cmp("a", CompareOp::Eq, json!(1)),
                Filter::And(vec![
                    cmp("b", CompareOp::Eq, json!(2)),
                    cmp("c", CompareOp::Eq, json!(3)),
                ]),
            ])
        );
    }

    #[test]
    fn parentheses_override_precedence() {
        let filter = parse("(a eq 1 or b eq 2) and c eq 3").unwrap();
        assert_eq!(
            filter,
            Filter::And(vec![
                Filter::Or(vec![
                    cmp("a", CompareOp::Eq, json!(1)),
                    cmp("b", CompareOp::Eq, json!(2)),
                ]),
                cmp("c", CompareOp::Eq, json!(3)),
            ])
        );
    }

    #[test]
    fn not_binds_tighter_than_and_with_or_without_space() {
        let expected = Filter::And(vec![
            Filter::Not(Box::new(cmp("a", CompareOp::Eq, json!(1)))),
            cmp("b", CompareOp::Eq, json!(2)),
        ]);
        assert_eq!(parse("not (a eq 1) and b eq 2").unwrap(), expected);
        assert_eq!(parse("NOT(a eq 1) and b eq 2").unwrap(), expected);
    }

    #[test]
    fn an_attribute_called_not_is_still_a_path() {
        assert_eq!(
            parse(r#"not eq "x""#).unwrap(),
            cmp("not", CompareOp::Eq, json!("x"))
        );
    }

    #[test]
    fn value_paths_hold_boolean_expressions() {
        let filter = parse(r#"emails[type eq "work" and value co "@example.com"]"#).unwrap();
        assert_eq!(
            filter,
            Filter::ValuePath {
                path: AttrPath::core("emails"),
                filter: Box::new(Filter::And(vec![
                    cmp("type", CompareOp::Eq, json!("work")),
                    cmp("value", CompareOp::Co, json!("@example.com")),
                ])),
            }
        );
    }

    #[test]
    fn the_entra_form_folds_the_trailing_comparison_into_the_value_path() {
        let filter = parse(r#"emails[type eq "work"].value eq "x@y.z""#).unwrap();
        assert_eq!(
            filter,
            Filter::ValuePath {
                path: AttrPath::core("emails"),
                filter: Box::new(Filter::And(vec![
                    cmp("type", CompareOp::Eq, json!("work")),
                    cmp("value", CompareOp::Eq, json!("x@y.z")),
                ])),
            }
        );
        assert!(matches(
            r#"emails[type eq "work"].value eq "BJENSEN@example.com""#
        ));
        assert!(!matches(
            r#"emails[type eq "home"].value eq "bjensen@example.com""#
        ));
    }

    #[test]
    fn urn_prefixed_paths_keep_their_dotted_version() {
        let filter = parse(&format!(
            r#"{ENTERPRISE_URN}:department eq "Tour Operations""#
        ))
        .unwrap();
        let Filter::Compare { path, .. } = &filter else {
            panic!("not a comparison");
        };
        assert_eq!(path.urn.as_deref(), Some(ENTERPRISE_URN));
        assert_eq!(path.name, "department");
        assert!(filter.matches(&user(), &USER).unwrap());
        assert!(matches(&format!(
            r#"{ENTERPRISE_URN}:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#
        )));
    }

    #[test]
    fn string_literals_decode_json_escapes() {
        assert_eq!(
            parse(r#"a eq "q\"u\\o\u00e9\n""#).unwrap(),
            cmp("a", CompareOp::Eq, json!("q\"u\\o\u{e9}\n"))
        );
    }

    #[test]
    fn numbers_parse_as_json_numbers() {
        assert_eq!(
            parse("a gt -12").unwrap(),
            cmp("a", CompareOp::Gt, json!(-12))
        );
        assert_eq!(
            parse("a le 1.5e3").unwrap(),
            cmp("a", CompareOp::Le, json!(1500.0))
        );
    }

    #[test]
    fn every_operator_evaluates_on_strings() {
        assert!(matches(r#"displayName eq "babs jensen""#));
        assert!(matches(r#"displayName ne "someone else""#));
        assert!(matches(r#"displayName co "S JEN""#));
        assert!(matches(r#"displayName sw "babs""#));
        assert!(matches(r#"displayName ew "SEN""#));
        assert!(matches(r#"displayName gt "Babs A""#));
        assert!(matches(r#"displayName ge "babs jensen""#));
        assert!(matches(r#"displayName lt "babs z""#));
        assert!(matches(r#"displayName le "BABS JENSEN""#));
        assert!(!matches(r#"displayName lt "babs jensen""#));
        assert!(matches("displayName pr"));
    }

    #[test]
    fn case_exact_attributes_compare_exactly() {
        assert!(matches(r#"externalId eq "Okta-00u1""#));
        assert!(!matches(r#"externalId eq "okta-00u1""#));
        assert!(!matches(r#"id eq "2819C223-7F76-453A-919D-413861904646""#));
        assert!(matches(r#"USERNAME eq "bjensen@example.com""#));
    }

    #[test]
    fn numbers_compare_numerically() {
        assert!(matches("loginCount gt 9"));
        assert!(matches("loginCount eq 42.0"));
        assert!(!matches("loginCount lt 42"));
        assert!(matches("loginCount le 42"));
    }

    #[test]
    fn date_times_compare_chronologically() {
        assert!(matches(r#"meta.lastModified gt "2011-05-13T02:00:00Z""#));
        assert!(matches(r#"meta.lastModified eq "2011-05-13T02:42:34Z""#));
        assert!(!matches(r#"meta.lastModified ge "2011-05-13T04:00:00Z""#));
        assert!(matches(r#"meta.created lt "2011-01-01T00:00:00Z""#));
    }

    #[test]
    fn ordering_on_booleans_or_binary_is_rejected() {
        assert!(matches!(
            eval_err("active gt true"),
            Error::Unsupported { .. }
        ));
        assert!(matches!(
            eval_err(r#"x509Certificates.value lt "A""#),
            Error::Unsupported { .. }
        ));
        assert!(matches!(
            eval_err("active co true"),
            Error::Unsupported { .. }
        ));
        assert!(matches!(
            eval_err(r#"loginCount co "4""#),
            Error::Unsupported { .. }
        ));
        assert!(matches!(
            eval_err(r#"meta.created gt "yesterday""#),
            Error::Unsupported { .. }
        ));
    }

    #[test]
    fn booleans_match_real_and_string_operands() {
        assert!(matches("active eq true"));
        assert!(matches(r#"active eq "True""#));
        assert!(!matches("active eq false"));
        assert!(matches!(
            eval_err(r#"active eq "yes""#),
            Error::Unsupported { .. }
        ));
    }

    #[test]
    fn multi_valued_attributes_match_when_any_value_matches() {
        assert!(matches(r#"emails co "@jensen.org""#));
        assert!(matches(r#"emails.type eq "home""#));
        assert!(!matches(r#"emails.type eq "other""#));
        assert!(matches(r#"emails[type eq "home" and value ew ".org"]"#));
        assert!(!matches(r#"emails[type eq "home" and primary eq true]"#));
    }

    #[test]
    fn complex_single_valued_attributes_compare_their_value() {
        let filter = "id eq \"2819c223-7f76-453a-919d-413861904646\" \
            and manager eq \"26118915-6090-4610-87e4-49d8ca9f808d\"";
        assert!(matches(filter));
        assert!(matches!(
            eval_err(r#"name eq "x""#),
            Error::Unsupported { .. }
        ));
    }

    #[test]
    fn present_means_non_empty() {
        assert!(matches("name pr"));
        assert!(matches("emails pr"));
        assert!(!matches("phoneNumbers pr"));
        assert!(!matches("name.formatted pr"));
        let mut resource = user();
        resource["displayName"] = json!("");
        let filter = parse("displayName pr").unwrap();
        assert!(!filter.matches(&resource, &USER).unwrap());
    }

    #[test]
    fn eq_null_means_not_present() {
        assert!(matches("phoneNumbers eq null"));
        assert!(!matches("displayName eq null"));
        assert!(matches("displayName ne null"));
        assert!(matches!(
            eval_err("displayName gt null"),
            Error::Unsupported { .. }
        ));
    }

    #[test]
    fn ne_matches_when_no_value_is_equal() {
        assert!(!matches(r#"emails.type ne "home""#));
        assert!(matches(r#"emails.type ne "other""#));
        assert!(matches(r#"name.formatted ne "x""#));
    }

    #[test]
    fn not_and_grouping_evaluate() {
        assert!(matches(r#"not (userName eq "nobody")"#));
        assert!(matches(
            r#"(userName eq "nobody" or active eq true) and emails pr"#
        ));
        assert!(!matches(r#"not(active eq true or userName eq "nobody")"#));
    }

    #[test]
    fn unknown_attributes_are_invalid_filters_naming_the_attribute() {
        let error = eval_err(r#"title eq "x""#);
        assert_eq!(error, Error::UnknownAttribute("title".into()));
        assert_eq!(error.scim_type(), "invalidFilter");
        assert!(matches!(
            eval_err(r#"emails[kind eq "x"]"#),
            Error::UnknownAttribute(_)
        ));
        let unreached = r#"userName eq "nobody" and bogus eq 1"#;
        assert!(matches!(eval_err(unreached), Error::UnknownAttribute(_)));
    }

    #[test]
    fn extension_attributes_resolve_without_their_urn() {
        assert!(matches(r#"department eq "tour operations""#));
        assert!(matches(r#"manager.value pr"#));
    }

    #[test]
    fn schemas_is_filterable_without_a_declaration() {
        let mut resource = user();
        resource["schemas"] = json!(["urn:ietf:params:scim:schemas:core:2.0:User"]);
        let filter = parse(r#"schemas eq "urn:ietf:params:scim:schemas:core:2.0:user""#).unwrap();
        assert!(filter.matches(&resource, &USER).unwrap());
    }

    #[test]
    fn group_display_name_filters_evaluate() {
        let group = json!({"id": "g1", "displayName": "Admins"});
        let filter = parse(r#"displayName eq "admins""#).unwrap();
        assert!(filter.matches(&group, &GROUP).unwrap());
    }

    #[test]
    fn malformed_filters_are_rejected() {
        for text in [
            "",
            "   ",
            "userName",
            "userName eq",
            "userName xx \"a\"",
            "userName eq bjensen",
            "userName eq \"unterminated",
            "userName eq \"bad \\q escape\"",
            "(userName eq \"a\"",
            "userName eq \"a\")",
            "userName eq \"a\" and",
            "or userName eq \"a\"",
            "emails[type eq \"work\"",
            "emails[]",
            "emails[type eq \"a\"][value eq \"b\"]",
            "emails[addr[x eq 1]]",
            "emails[value.x eq 1]",
            "name.givenName[x eq 1]",
            "emails[type eq \"work\"].value",
            "emails[type eq \"work\"].",
            "a.b.c eq 1",
            "a eq 1 b eq 2",
            "a eq -",
            "a eq 1.2.3",
            "a eq 01",
            "a eq 1.",
            "a eq 1e",
            "a eq .5",
            "a eq 1e999",
            "not a eq 1",
            "a eq 'single'",
            "a € 1",
            ".value eq 1",
        ] {
            let result = parse(text);
            assert!(result.is_err(), "{text:?} parsed as {result:?}");
        }
    }

    #[test]
    fn errors_never_echo_literal_values() {
        for text in [
            r#"userName eq "secret@example.com" extra"#,
            r#"userName qq "secret@example.com""#,
            r#"userName eq "secret@example.com"#,
        ] {
            let message = parse(text).unwrap_err().to_string();
            assert!(!message.contains("secret"), "{message}");
        }
    }

    #[test]
    fn the_length_budget_is_enforced() {
        let long = format!(r#"userName eq "{}""#, "a".repeat(MAX_LEN));
        assert!(matches!(parse(&long), Err(Error::TooComplex(_))));
    }

    #[test]
    fn the_depth_budget_is_enforced() {
        let ok = format!("{}a eq 1{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
        let deep = format!(
            "{}a eq 1{}",
            "(".repeat(MAX_DEPTH + 1),
            ")".repeat(MAX_DEPTH + 1)
        );
        assert!(matches!(parse(&deep), Err(Error::TooComplex(_))));
        let nots = format!("{}a eq 1{}", "not (".repeat(40), ")".repeat(40));
        assert!(matches!(parse(&nots), Err(Error::TooComplex(_))));
    }

    #[test]
    fn the_term_budget_is_enforced() {
        let terms = |n: usize| vec!["a eq 1"; n].join(" or ");
        assert!(parse(&terms(MAX_TERMS)).is_ok());
        assert!(matches!(
            parse(&terms(MAX_TERMS + 1)),
            Err(Error::TooComplex(_))
        ));
    }

    #[test]
    fn display_is_canonical_and_reparsable() {
        let text =
            r#"NOT(a EQ "x\"y") and (b pr or c gt 2) and emails[type eq "work"].value sw "q""#;
        let filter = parse(text).unwrap();
        assert_eq!(
            filter.to_string(),
            r#"not (a eq "x\"y") and (b pr or c gt 2) and emails[type eq "work" and value sw "q"]"#
        );
        assert_eq!(parse(&filter.to_string()).unwrap(), filter);
    }

    #[test]
    fn parse_value_path_splits_attribute_filter_and_sub_attribute() {
        let (attr, filter, sub) = parse_value_path(r#"emails[type eq "work"].value"#).unwrap();
        assert_eq!(attr, AttrPath::core("emails"));
        assert_eq!(filter, cmp("type", CompareOp::Eq, json!("work")));
        assert_eq!(sub.as_deref(), Some("value"));
        let (_, _, sub) = parse_value_path(r#"members[value eq "a]b"]"#).unwrap();
        assert_eq!(sub, None);
        assert!(parse_value_path(r#"members[value eq "x"] extra"#).is_err());
        assert!(parse_value_path("members").is_err());
    }

    #[test]
    fn sorting_is_case_insensitive_and_puts_missing_values_last() {
        let a = json!({"userName": "alice"});
        let b = json!({"userName": "Bob"});
        let none = json!({});
        let path = AttrPath::core("userName");
        assert_eq!(
            compare_for_sort(&a, &b, &path, &USER).unwrap(),
            Ordering::Less
        );
        assert_eq!(
            compare_for_sort(&b, &a, &path, &USER).unwrap(),
            Ordering::Greater
        );
        assert_eq!(
            compare_for_sort(&none, &a, &path, &USER).unwrap(),
            Ordering::Greater
        );
        assert_eq!(
            compare_for_sort(&a, &none, &path, &USER).unwrap(),
            Ordering::Less
        );
        assert_eq!(
            compare_for_sort(&none, &none, &path, &USER).unwrap(),
            Ordering::Equal
        );
    }

    #[test]
    fn sorting_a_multi_valued_attribute_uses_the_primary_value() {
        let a = json!({"emails": [{"value": "z@x"}, {"value": "a@x", "primary": true}]});
        let b = json!({"emails": [{"value": "m@x"}]});
        let path = AttrPath::core("emails");
        assert_eq!(
            compare_for_sort(&a, &b, &path, &USER).unwrap(),
            Ordering::Less
        );
        let by_type = AttrPath::core_sub("emails", "value");
        assert_eq!(
            compare_for_sort(&a, &b, &by_type, &USER).unwrap(),
            Ordering::Less
        );
    }

    #[test]
    fn sorting_by_dates_and_numbers_uses_their_order() {
        let early = json!({"meta": {"created": "2020-01-01T10:00:00+05:00"}, "loginCount": 10});
        let late = json!({"meta": {"created": "2020-01-01T06:00:00Z"}, "loginCount": 9});
        let created = AttrPath::core_sub("meta", "created");
        let count = AttrPath::core("loginCount");
        assert_eq!(
            compare_for_sort(&early, &late, &created, &USER).unwrap(),
            Ordering::Less
        );
        assert_eq!(
            compare_for_sort(&early, &late, &count, &USER).unwrap(),
            Ordering::Greater
        );
    }

    #[test]
    fn sorting_by_an_unknown_or_complex_attribute_is_an_error() {
        let x = json!({});
        assert!(compare_for_sort(&x, &x, &AttrPath::core("nope"), &USER).is_err());
        assert!(compare_for_sort(&x, &x, &AttrPath::core("name"), &USER).is_err());
    }

    fn arb_name() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("userName".to_owned()),
            Just("emails".to_owned()),
            Just("$ref".to_owned()),
            Just("pr".to_owned()),
            Just("x-y_z9".to_owned()),
            "[a-zA-Z][a-zA-Z0-9_-]{0,8}".prop_filter("not a keyword", |name| {
                !name.eq_ignore_ascii_case("not")
            }),
        ]
    }

    fn arb_relative_path() -> impl Strategy<Value = AttrPath> {
        arb_name().prop_map(|name| AttrPath::core(&name))
    }

    fn arb_path() -> impl Strategy<Value = AttrPath> {
        let urn = prop_oneof![
            Just(None),
            Just(Some(ENTERPRISE_URN.to_owned())),
            Just(Some(
                "urn:ietf:params:scim:schemas:core:2.0:User".to_owned()
            )),
        ];
        (urn, arb_name(), proptest::option::of(arb_name())).prop_map(|(urn, name, sub)| AttrPath {
            urn,
            name,
            sub,
        })
    }

    fn arb_op() -> impl Strategy<Value = CompareOp> {
        proptest::sample::select(vec![
            CompareOp::Eq,
            CompareOp::Ne,
            CompareOp::Co,
            CompareOp::Sw,
            CompareOp::Ew,
            CompareOp::Gt,
            CompareOp::Ge,
            CompareOp::Lt,
            CompareOp::Le,
        ])
    }

    fn arb_literal() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            (-1.0e12f64..1.0e12).prop_map(Value::from),
            "\\PC{0,12}".prop_map(Value::String),
            "[\"\\\\\n\t a-z]{0,6}".prop_map(Value::String),
        ]
    }

    fn arb_leaf(path: BoxedStrategy<AttrPath>) -> impl Strategy<Value = Filter> {
        prop_oneof![
            path.clone().prop_map(Filter::Present),
            (path, arb_op(), arb_literal()).prop_map(|(path, op, value)| Filter::Compare {
                path,
                op,
                value
            }),
        ]
    }

    fn arb_tree(leaf: BoxedStrategy<Filter>) -> BoxedStrategy<Filter> {
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 2..4).prop_map(Filter::And),
                prop::collection::vec(inner.clone(), 2..4).prop_map(Filter::Or),
                inner.prop_map(|filter| Filter::Not(Box::new(filter))),
            ]
        })
        .boxed()
    }

    fn arb_filter() -> BoxedStrategy<Filter> {
        let relative = arb_tree(arb_leaf(arb_relative_path().boxed()).boxed());
        let value_path =
            (arb_relative_path(), relative).prop_map(|(path, filter)| Filter::ValuePath {
                path,
                filter: Box::new(filter),
            });
        let leaf = prop_oneof![3 => arb_leaf(arb_path().boxed()), 1 => value_path].boxed();
        arb_tree(leaf)
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
            let _ = parse(&text);
            let _ = parse_value_path(&text);
        }

        #[test]
        fn filter_like_text_never_panics(text in r#"[a-zA-Z0-9 ()\[\]".:$\\-]{0,120}"#) {
            if let Ok(filter) = parse(&text) {
                let _ = filter.matches(&user(), &USER);
                let _ = filter.to_string();
            }
        }

        #[test]
        fn generated_filters_round_trip_through_display(filter in arb_filter()) {
            let text = filter.to_string();
            prop_assert_eq!(parse(&text), Ok(filter), "{}", text);
        }

        #[test]
        fn evaluating_generated_filters_never_panics(filter in arb_filter()) {
            let _ = filter.matches(&user(), &USER);
        }
    }
}
