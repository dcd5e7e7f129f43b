//! The Admin GraphQL endpoint's engine: parse, validate, cost, throttle, run, project.
//!
//! The document is parsed with `graphql-parser`; the operation is picked, its variables
//! coerced and every selection validated against [`schema`]; it is costed and charged to
//! the app's bucket; the root fields run and the answer holds exactly the selected fields
//! (aliases, fragments, `@skip`/`@include` and `__typename` included).
//!
//! Costs follow `shopify.md` §7: scalars and enums 0, objects 1, connections 2 plus
//! `first`/`last` times the cost of one item, mutations 10. The requested cost is charged
//! up front and refunded to the actual cost, where connections count the items returned
//! and null objects nothing.

mod resolve;
pub mod schema;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use graphql_parser::query::{
    Definition, Document, Field, FragmentDefinition, OperationDefinition, Selection, SelectionSet,
    Type, TypeCondition, VariableDefinition,
};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::bucket::{SINGLE_QUERY_MAX_COST, ThrottleStatus};
use crate::config::StandInConfig;
use crate::store::Inner;
use crate::webhook::Event;

pub use resolve::customer_json;

/// Cost of each root field of a mutation.
pub const MUTATION_COST: u64 = 10;

/// Deepest fragment nesting followed.
const MAX_DEPTH: usize = 32;

/// A GraphQL request body.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    /// The document.
    pub query: String,
    /// Variable values.
    #[serde(default)]
    pub variables: Option<Value>,
    /// Which operation of the document to run.
    #[serde(default)]
    pub operation_name: Option<String>,
}

/// What one call came to, for the response and the call log.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The JSON response (always HTTP 200).
    pub body: Value,
    /// `query Name` or `mutation Name`.
    pub operation: String,
    /// The root fields selected.
    pub root_fields: Vec<String>,
    /// Cost charged up front, when costing got that far.
    pub requested_cost: Option<u64>,
    /// Cost kept, when the operation ran.
    pub actual_cost: Option<u64>,
    /// Whether the answer is `THROTTLED`.
    pub throttled: bool,
    /// The bucket after the call.
    pub throttle_status: ThrottleStatus,
    /// Webhooks the call triggers.
    pub events: Vec<Event>,
}

/// One entry of a response's `errors`.
#[derive(Debug, Clone)]
pub struct GqlError {
    message: String,
    location: Option<(usize, usize)>,
    path: Option<Vec<Value>>,
    extensions: Map<String, Value>,
}

impl GqlError {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            location: None,
            path: None,
            extensions: Map::new(),
        }
    }

    fn at(mut self, position: graphql_parser::Pos) -> Self {
        self.location = Some((position.line, position.column));
        self
    }

    fn code(mut self, code: &str) -> Self {
        self.extensions
            .insert("code".to_owned(), Value::String(code.to_owned()));
        self
    }

    fn to_json(&self) -> Value {
        let mut error = Map::new();
        error.insert("message".to_owned(), Value::String(self.message.clone()));
        if let Some((line, column)) = self.location {
            error.insert(
                "locations".to_owned(),
                json!([{ "line": line, "column": column }]),
            );
        }
        if let Some(path) = &self.path {
            error.insert("path".to_owned(), Value::Array(path.clone()));
        }
        if !self.extensions.is_empty() {
            error.insert(
                "extensions".to_owned(),
                Value::Object(self.extensions.clone()),
            );
        }
        Value::Object(error)
    }
}

type Doc<'q> = Document<'q, &'q str>;
type Sel<'q> = SelectionSet<'q, &'q str>;
type Fld<'q> = Field<'q, &'q str>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Query,
    Mutation,
}

struct Operation<'d, 'q> {
    kind: Kind,
    name: Option<&'q str>,
    variables: &'d [VariableDefinition<'q, &'q str>],
    selection: &'d Sel<'q>,
    position: graphql_parser::Pos,
}

/// Runs one request for `shop` (which must exist) and reports what happened.
///
/// `force_throttle` answers `THROTTLED` whatever the bucket holds (an injected fault).
pub fn execute(
    inner: &mut Inner,
    config: &StandInConfig,
    shop: &str,
    request: &Request,
    now: DateTime<Utc>,
    force_throttle: bool,
) -> Outcome {
    let mut outcome = Outcome {
        body: Value::Null,
        operation: "unknown".to_owned(),
        root_fields: Vec::new(),
        requested_cost: None,
        actual_cost: None,
        throttled: false,
        throttle_status: status(inner, shop, now),
        events: Vec::new(),
    };
    let fail = |outcome: &mut Outcome, errors: Vec<GqlError>| {
        outcome.body = respond(None, &errors, outcome, None);
    };

    let document = match graphql_parser::parse_query::<&str>(&request.query) {
        Ok(document) => document,
        Err(error) => {
            let message = error.to_string().trim().replace('\n', " ");
            fail(
                &mut outcome,
                vec![GqlError::new(message).code("PARSE_ERROR")],
            );
            return outcome;
        }
    };
    let operation = match pick_operation(&document, request.operation_name.as_deref()) {
        Ok(operation) => operation,
        Err(error) => {
            fail(&mut outcome, vec![error]);
            return outcome;
        }
    };
    let kind_word = match operation.kind {
        Kind::Query => "query",
        Kind::Mutation => "mutation",
    };
    outcome.operation = match operation.name {
        Some(name) => format!("{kind_word} {name}"),
        None => kind_word.to_owned(),
    };

    let variables = match coerce_variables(operation.variables, request.variables.as_ref()) {
        Ok(variables) => variables,
        Err(errors) => {
            fail(&mut outcome, errors);
            return outcome;
        }
    };
    let engine = Engine {
        fragments: fragments(&document),
        variables,
        app_namespace: format!("app--{}", config.app_id),
    };
    let root = match operation.kind {
        Kind::Query => schema::QUERY_ROOT,
        Kind::Mutation => schema::MUTATION_ROOT,
    };
    let mut errors = Vec::new();
    engine.validate(operation.selection, root, &mut errors, 0);
    let roots = engine.collect(operation.selection, root);
    outcome.root_fields = roots.iter().map(|field| field.name.to_owned()).collect();
    if roots.is_empty() {
        errors.push(GqlError::new("Operation selects no fields").at(operation.position));
    }
    if !errors.is_empty() {
        fail(&mut outcome, errors);
        return outcome;
    }

    let requested = match operation.kind {
        Kind::Mutation => {
            MUTATION_COST * roots.iter().filter(|f| f.name != "__typename").count() as u64
        }
        Kind::Query => engine.static_cost(operation.selection, root),
    };
    outcome.requested_cost = Some(requested);
    if requested > SINGLE_QUERY_MAX_COST {
        let error = GqlError::new(format!(
            "Query cost is {requested}, which exceeds the single query max cost limit \
             ({SINGLE_QUERY_MAX_COST})."
        ))
        .code("MAX_COST_EXCEEDED");
        outcome.body = respond(None, &[error], &outcome, None);
        return outcome;
    }

    let Some(shop_record) = inner.shops.get_mut(shop) else {
        fail(&mut outcome, vec![GqlError::new("Shop not found")]);
        return outcome;
    };
    let charged = if force_throttle {
        Err(shop_record.bucket.status_at(now))
    } else {
        shop_record.bucket.charge(requested, now)
    };
    if let Err(status) = charged {
        outcome.throttled = true;
        outcome.throttle_status = status;
        let error = GqlError::new("Throttled").code("THROTTLED");
        let mut error_json = error.to_json();
        error_json["extensions"]["documentation"] =
            Value::String("https://shopify.dev/api/usage/rate-limits".to_owned());
        outcome.body = json!({
            "errors": [error_json],
            "extensions": { "cost": cost_json(Some(requested), None, &status) },
        });
        return outcome;
    }

    let mut context = resolve::Context {
        inner,
        config,
        shop,
        now,
        events: Vec::new(),
    };
    let mut data = Map::new();
    let mut field_errors = Vec::new();
    let mut actual = 0;
    for field in roots {
        let key = field.alias.unwrap_or(field.name).to_owned();
        if field.name == "__typename" {
            data.insert(key, Value::String(root.to_owned()));
            continue;
        }
        let arguments = engine.arguments(field);
        let resolved = match operation.kind {
            Kind::Query => resolve::query_field(&mut context, field.name, &arguments),
            Kind::Mutation => resolve::mutation_field(&mut context, field.name, &arguments),
        };
        let field_type = schema::field_type(root, field.name).unwrap_or("String");
        let completed = resolved.and_then(|value| {
            if schema::is_connection(field_type) {
                engine.connection(&value, field_type, &field.selection_set)
            } else {
                engine.complete(&value, field_type, &field.selection_set)
            }
        });
        match completed {
            Ok((value, cost)) => {
                actual += match operation.kind {
                    Kind::Query => cost,
                    Kind::Mutation => MUTATION_COST,
                };
                data.insert(key, value);
            }
            Err(mut error) => {
                error.path = Some(vec![Value::String(key.clone())]);
                field_errors.push(error.at(field.position));
                data.insert(key, Value::Null);
            }
        }
    }
    outcome.events = std::mem::take(&mut context.events);

    let actual = actual.min(requested);
    outcome.actual_cost = Some(actual);
    if let Some(shop_record) = inner.shops.get_mut(shop) {
        outcome.throttle_status = shop_record.bucket.refund(requested - actual, now);
    }
    outcome.body = respond(
        Some(Value::Object(data)),
        &field_errors,
        &outcome,
        Some(actual),
    );
    outcome
}

fn status(inner: &mut Inner, shop: &str, now: DateTime<Utc>) -> ThrottleStatus {
    inner.shops.get_mut(shop).map_or(
        ThrottleStatus {
            maximum_available: 0.0,
            currently_available: 0,
            restore_rate: 0.0,
        },
        |shop| shop.bucket.status_at(now),
    )
}

fn cost_json(requested: Option<u64>, actual: Option<u64>, status: &ThrottleStatus) -> Value {
    json!({
        "requestedQueryCost": requested.unwrap_or(0),
        "actualQueryCost": actual,
        "throttleStatus": status,
    })
}

fn respond(
    data: Option<Value>,
    errors: &[GqlError],
    outcome: &Outcome,
    actual: Option<u64>,
) -> Value {
    let mut body = Map::new();
    if let Some(data) = data {
        body.insert("data".to_owned(), data);
    }
    if !errors.is_empty() {
        body.insert(
            "errors".to_owned(),
            Value::Array(errors.iter().map(GqlError::to_json).collect()),
        );
    }
    body.insert(
        "extensions".to_owned(),
        json!({ "cost": cost_json(outcome.requested_cost, actual, &outcome.throttle_status) }),
    );
    Value::Object(body)
}

fn pick_operation<'d, 'q>(
    document: &'d Doc<'q>,
    wanted: Option<&str>,
) -> Result<Operation<'d, 'q>, GqlError> {
    let mut operations = Vec::new();
    for definition in &document.definitions {
        let Definition::Operation(operation) = definition else {
            continue;
        };
        let found = match operation {
            OperationDefinition::SelectionSet(selection) => Operation {
                kind: Kind::Query,
                name: None,
                variables: &[],
                selection,
                position: selection.span.0,
            },
            OperationDefinition::Query(query) => Operation {
                kind: Kind::Query,
                name: query.name,
                variables: &query.variable_definitions,
                selection: &query.selection_set,
                position: query.position,
            },
            OperationDefinition::Mutation(mutation) => Operation {
                kind: Kind::Mutation,
                name: mutation.name,
                variables: &mutation.variable_definitions,
                selection: &mutation.selection_set,
                position: mutation.position,
            },
            OperationDefinition::Subscription(subscription) => {
                return Err(
                    GqlError::new("Subscriptions are not supported").at(subscription.position)
                );
            }
        };
        operations.push(found);
    }

    match wanted {
        Some(name) => operations
            .into_iter()
            .find(|operation| operation.name == Some(name))
            .ok_or_else(|| GqlError::new(format!("No operation named \"{name}\""))),
        None if operations.len() == 1 => operations
            .pop()
            .ok_or_else(|| GqlError::new("No operations in query document")),
        None if operations.is_empty() => Err(GqlError::new("No operations in query document")),
        None => Err(GqlError::new(
            "An operation name is required when sending multiple operations.",
        )),
    }
}

fn fragments<'d, 'q>(
    document: &'d Doc<'q>,
) -> HashMap<&'q str, &'d FragmentDefinition<'q, &'q str>> {
    document
        .definitions
        .iter()
        .filter_map(|definition| match definition {
            Definition::Fragment(fragment) => Some((fragment.name, fragment)),
            Definition::Operation(_) => None,
        })
        .collect()
}

fn type_name<'q>(variable_type: &Type<'q, &'q str>) -> String {
    match variable_type {
        Type::NamedType(name) => (*name).to_owned(),
        Type::ListType(inner) => format!("[{}]", type_name(inner)),
        Type::NonNullType(inner) => format!("{}!", type_name(inner)),
    }
}

fn coerce_variables<'q>(
    definitions: &[VariableDefinition<'q, &'q str>],
    given: Option<&Value>,
) -> Result<Map<String, Value>, Vec<GqlError>> {
    let given = match given {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => return Err(vec![GqlError::new("variables must be an object")]),
    };
    let mut values = Map::new();
    let mut errors = Vec::new();
    for definition in definitions {
        let value = match given.get(definition.name) {
            Some(value) => value.clone(),
            None => definition
                .default_value
                .as_ref()
                .map_or(Value::Null, |default| literal(default, &Map::new())),
        };
        if value.is_null() && matches!(definition.var_type, Type::NonNullType(_)) {
            errors.push(
                GqlError::new(format!(
                    "Variable ${} of type {} was provided invalid value",
                    definition.name,
                    type_name(&definition.var_type)
                ))
                .code("INVALID_VARIABLE")
                .at(definition.position),
            );
            continue;
        }
        values.insert(definition.name.to_owned(), value);
    }
    if errors.is_empty() {
        Ok(values)
    } else {
        Err(errors)
    }
}

/// A GraphQL literal as JSON, with variables substituted.
fn literal<'q>(
    value: &graphql_parser::query::Value<'q, &'q str>,
    variables: &Map<String, Value>,
) -> Value {
    use graphql_parser::query::Value as V;
    match value {
        V::Variable(name) => variables.get(*name).cloned().unwrap_or(Value::Null),
        V::Int(number) => number.as_i64().map_or(Value::Null, Value::from),
        V::Float(number) => Value::from(*number),
        V::String(text) => Value::String(text.clone()),
        V::Boolean(flag) => Value::Bool(*flag),
        V::Null => Value::Null,
        V::Enum(name) => Value::String((*name).to_owned()),
        V::List(items) => Value::Array(items.iter().map(|item| literal(item, variables)).collect()),
        V::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(key, value)| ((*key).to_owned(), literal(value, variables)))
                .collect(),
        ),
    }
}

struct Engine<'d, 'q> {
    fragments: HashMap<&'q str, &'d FragmentDefinition<'q, &'q str>>,
    variables: Map<String, Value>,
    app_namespace: String,
}

impl<'d, 'q> Engine<'d, 'q> {
    fn arguments(&self, field: &Fld<'q>) -> Map<String, Value> {
        field
            .arguments
            .iter()
            .map(|(name, value)| ((*name).to_owned(), literal(value, &self.variables)))
            .collect()
    }

    /// Whether `@skip`/`@include` leave a selection in.
    fn included(&self, directives: &[graphql_parser::query::Directive<'q, &'q str>]) -> bool {
        directives.iter().all(|directive| {
            let condition = directive
                .arguments
                .iter()
                .find(|(name, _)| *name == "if")
                .map(|(_, value)| literal(value, &self.variables));
            match directive.name {
                "skip" => condition != Some(Value::Bool(true)),
                "include" => condition != Some(Value::Bool(false)),
                _ => true,
            }
        })
    }

    /// The fields of `selection` that apply to an object of type `concrete`, fragments
    /// flattened.
    fn collect(&self, selection: &'d Sel<'q>, concrete: &str) -> Vec<&'d Fld<'q>> {
        let mut fields = Vec::new();
        self.collect_into(selection, concrete, &mut fields, 0);
        fields
    }

    fn collect_into(
        &self,
        selection: &'d Sel<'q>,
        concrete: &str,
        fields: &mut Vec<&'d Fld<'q>>,
        depth: usize,
    ) {
        if depth > MAX_DEPTH {
            return;
        }
        for item in &selection.items {
            match item {
                Selection::Field(field) => {
                    if self.included(&field.directives) {
                        fields.push(field);
                    }
                }
                Selection::FragmentSpread(spread) => {
                    if let Some(fragment) = self.fragments.get(spread.fragment_name) {
                        let TypeCondition::On(condition) = fragment.type_condition;
                        if self.included(&spread.directives) && schema::applies(condition, concrete)
                        {
                            self.collect_into(&fragment.selection_set, concrete, fields, depth + 1);
                        }
                    }
                }
                Selection::InlineFragment(inline) => {
                    let applies = match &inline.type_condition {
                        Some(TypeCondition::On(condition)) => schema::applies(condition, concrete),
                        None => true,
                    };
                    if applies && self.included(&inline.directives) {
                        self.collect_into(&inline.selection_set, concrete, fields, depth + 1);
                    }
                }
            }
        }
    }

    fn validate(
        &self,
        selection: &'d Sel<'q>,
        parent: &str,
        errors: &mut Vec<GqlError>,
        depth: usize,
    ) {
        if depth > MAX_DEPTH {
            errors.push(GqlError::new("Fragments are nested too deeply"));
            return;
        }
        for item in &selection.items {
            match item {
                Selection::Field(field) => self.validate_field(field, parent, errors, depth),
                Selection::FragmentSpread(spread) => {
                    let Some(fragment) = self.fragments.get(spread.fragment_name) else {
                        errors.push(
                            GqlError::new(format!(
                                "Fragment {} was used, but not defined",
                                spread.fragment_name
                            ))
                            .at(spread.position)
                            .code("useAndDefineFragment"),
                        );
                        continue;
                    };
                    let TypeCondition::On(condition) = fragment.type_condition;
                    self.validate_spread(condition, parent, spread.position, errors);
                    self.validate(&fragment.selection_set, condition, errors, depth + 1);
                }
                Selection::InlineFragment(inline) => {
                    let condition = match &inline.type_condition {
                        Some(TypeCondition::On(condition)) => {
                            self.validate_spread(condition, parent, inline.position, errors);
                            *condition
                        }
                        None => parent,
                    };
                    self.validate(&inline.selection_set, condition, errors, depth + 1);
                }
            }
        }
    }

    fn validate_spread(
        &self,
        condition: &str,
        parent: &str,
        position: graphql_parser::Pos,
        errors: &mut Vec<GqlError>,
    ) {
        if !schema::can_spread(condition, parent) {
            errors.push(
                GqlError::new(format!(
                    "Fragment on {condition} can't be spread inside {parent}"
                ))
                .at(position)
                .code("fragmentSpreadTypeMismatch"),
            );
        }
    }

    fn validate_field(
        &self,
        field: &'d Fld<'q>,
        parent: &str,
        errors: &mut Vec<GqlError>,
        depth: usize,
    ) {
        let has_selection = !field.selection_set.items.is_empty();
        if field.name == "__typename" {
            return;
        }
        let Some(field_type) = schema::field_type(parent, field.name) else {
            let mut error = GqlError::new(format!(
                "Field '{}' doesn't exist on type '{parent}'",
                field.name
            ))
            .at(field.position)
            .code("undefinedField");
            error
                .extensions
                .insert("typeName".to_owned(), Value::String(parent.to_owned()));
            error
                .extensions
                .insert("fieldName".to_owned(), Value::String(field.name.to_owned()));
            errors.push(error);
            return;
        };
        if schema::is_leaf(field_type) && has_selection {
            errors.push(
                GqlError::new(format!(
                    "Selections can't be made on scalars (field '{}' returns {field_type} but \
                     has selections)",
                    field.name
                ))
                .at(field.position)
                .code("selectionMismatch"),
            );
        } else if !schema::is_leaf(field_type) && !has_selection {
            errors.push(
                GqlError::new(format!(
                    "Field must have selections (field '{}' returns {field_type} but has no \
                     selections. Did you mean '{} {{ ... }}'?)",
                    field.name, field.name
                ))
                .at(field.position)
                .code("selectionMismatch"),
            );
        } else if schema::is_connection(field_type) {
            let arguments = self.arguments(field);
            if page_size(&arguments).is_none() {
                errors.push(
                    GqlError::new("you must provide one of first or last")
                        .at(field.position)
                        .code("argumentLiteralsIncompatible"),
                );
            }
            self.validate(&field.selection_set, field_type, errors, depth);
        } else if has_selection {
            self.validate(&field.selection_set, field_type, errors, depth);
        }
    }

    /// The cost of `selection` on an object of type `parent` before it runs.
    fn static_cost(&self, selection: &'d Sel<'q>, parent: &str) -> u64 {
        self.collect_static(selection)
            .into_iter()
            .map(|field| {
                let Some(field_type) = schema::field_type(parent, field.name) else {
                    return 0;
                };
                if schema::is_leaf(field_type) {
                    0
                } else if schema::is_connection(field_type) {
                    let size = page_size(&self.arguments(field)).unwrap_or(0);
                    2 + size * self.item_cost(&field.selection_set, field_type)
                } else {
                    1 + self.static_cost(&field.selection_set, field_type)
                }
            })
            .sum()
    }

    /// The cost of one item of a connection: its edge's node or its node.
    fn item_cost(&self, selection: &'d Sel<'q>, connection: &str) -> u64 {
        self.collect_static(selection)
            .into_iter()
            .map(
                |field| match (field.name, schema::field_type(connection, field.name)) {
                    ("edges", Some(edge)) => self.static_cost(&field.selection_set, edge),
                    ("nodes", Some(node)) => 1 + self.static_cost(&field.selection_set, node),
                    _ => 0,
                },
            )
            .sum()
    }

    /// Every field of `selection`, every fragment included (an upper bound for costing).
    fn collect_static(&self, selection: &'d Sel<'q>) -> Vec<&'d Fld<'q>> {
        let mut fields = Vec::new();
        self.collect_static_into(selection, &mut fields, 0);
        fields
    }

    fn collect_static_into(
        &self,
        selection: &'d Sel<'q>,
        fields: &mut Vec<&'d Fld<'q>>,
        depth: usize,
    ) {
        if depth > MAX_DEPTH {
            return;
        }
        for item in &selection.items {
            match item {
                Selection::Field(field) if self.included(&field.directives) => fields.push(field),
                Selection::Field(_) => {}
                Selection::FragmentSpread(spread) => {
                    if let Some(fragment) = self.fragments.get(spread.fragment_name) {
                        self.collect_static_into(&fragment.selection_set, fields, depth + 1);
                    }
                }
                Selection::InlineFragment(inline) => {
                    self.collect_static_into(&inline.selection_set, fields, depth + 1);
                }
            }
        }
    }

    /// Projects a resolved value onto `selection`; returns it with its actual cost
    /// (1 per non-null object, 0 for leaves).
    fn complete(
        &self,
        value: &Value,
        static_type: &str,
        selection: &'d Sel<'q>,
    ) -> Result<(Value, u64), GqlError> {
        match value {
            Value::Null => Ok((Value::Null, 0)),
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                let mut cost = 0;
                for item in items {
                    let (value, item_cost) = self.complete(item, static_type, selection)?;
                    out.push(value);
                    cost += item_cost;
                }
                Ok((Value::Array(out), cost))
            }
            Value::Object(object) if !schema::is_leaf(static_type) => {
                let (map, cost) = self.fields(object, static_type, selection)?;
                Ok((Value::Object(map), 1 + cost))
            }
            leaf => Ok((leaf.clone(), 0)),
        }
    }

    fn fields(
        &self,
        object: &Map<String, Value>,
        static_type: &str,
        selection: &'d Sel<'q>,
    ) -> Result<(Map<String, Value>, u64), GqlError> {
        let concrete = object
            .get("__typename")
            .and_then(Value::as_str)
            .unwrap_or(static_type);
        let mut out = Map::new();
        let mut cost = 0;
        for field in self.collect(selection, concrete) {
            let key = field.alias.unwrap_or(field.name).to_owned();
            if field.name == "__typename" {
                out.insert(key, Value::String(concrete.to_owned()));
                continue;
            }
            let field_type = schema::field_type(concrete, field.name).unwrap_or("String");
            let special;
            let value = match (concrete, field.name) {
                ("Customer", "metafield" | "metafields") => {
                    special = resolve::customer_metafields(
                        object,
                        field.name,
                        &self.arguments(field),
                        &self.app_namespace,
                    )
                    .map_err(|message| GqlError::new(message).at(field.position))?;
                    &special
                }
                _ => object.get(field.name).unwrap_or(&Value::Null),
            };
            let (value, field_cost) = if schema::is_connection(field_type) {
                self.connection(value, field_type, &field.selection_set)?
            } else {
                self.complete(value, field_type, &field.selection_set)?
            };
            if out.contains_key(&key) {
                merge(&mut out, key, value);
            } else {
                out.insert(key, value);
            }
            cost += field_cost;
        }
        Ok((out, cost))
    }

    /// Projects a connection; its cost is 2 plus one per item returned (and what the
    /// items select).
    fn connection(
        &self,
        value: &Value,
        connection: &str,
        selection: &'d Sel<'q>,
    ) -> Result<(Value, u64), GqlError> {
        let Value::Object(object) = value else {
            return Ok((Value::Null, 0));
        };
        let mut out = Map::new();
        let mut cost = 2;
        for field in self.collect(selection, connection) {
            let key = field.alias.unwrap_or(field.name).to_owned();
            if field.name == "__typename" {
                out.insert(key, Value::String(connection.to_owned()));
                continue;
            }
            let field_type = schema::field_type(connection, field.name).unwrap_or("String");
            let value = object.get(field.name).unwrap_or(&Value::Null);
            let (value, field_cost) = self.complete(value, field_type, &field.selection_set)?;
            cost += match (field.name, &value) {
                // An edge is only the node's envelope: only the node is charged.
                ("edges", Value::Array(edges)) => field_cost.saturating_sub(edges.len() as u64),
                ("nodes", _) => field_cost,
                _ => 0,
            };
            out.insert(key, value);
        }
        Ok((Value::Object(out), cost))
    }
}

/// Merges two selections of the same response key (e.g. from two fragments).
fn merge(out: &mut Map<String, Value>, key: String, value: Value) {
    match (out.get_mut(&key), value) {
        (Some(Value::Object(existing)), Value::Object(more)) => {
            for (inner_key, inner_value) in more {
                merge(existing, inner_key, inner_value);
            }
        }
        (_, value) => {
            out.insert(key, value);
        }
    }
}

/// The `first` or `last` argument of a connection field.
fn page_size(arguments: &Map<String, Value>) -> Option<u64> {
    arguments
        .get("first")
        .or_else(|| arguments.get("last"))
        .and_then(Value::as_u64)
}
