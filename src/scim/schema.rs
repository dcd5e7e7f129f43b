//! The SCIM schemas we serve and the discovery documents built from them (RFC 7643 §3–§8.7).
//!
//! This module owns the static definitions of the common attributes, the User, Group and
//! Enterprise User schemas, the two resource types, and the schemas of the discovery resources
//! themselves (`ServiceProviderConfig`, `ResourceType`, `Schema`). It renders
//! `/ServiceProviderConfig`, `/ResourceTypes` and `/Schemas` as JSON for a tenant's base URL.
//! It knows nothing of HTTP or storage.
//!
//! Attribute characteristics follow the RFC 7643 §8.7.1/§8.7.2 representations, with these
//! deliberate differences:
//!
//! - Group `displayName` is required and unique per tenant (the §4.2 prose says required;
//!   Entra matches groups by it).
//! - Enterprise `manager.value` is not required (§4.3 calls it RECOMMENDED).
//! - Identifiers of other resources (`members.value`, `manager.value`, `groups.value`) are
//!   case-exact, like the `id` they hold.
//! - Every multi-valued complex attribute with a `primary` sub-attribute in §4.1.2 has one here
//!   (`addresses` included), and Group `members` has a `display` sub-attribute, because
//!   identity providers send them.

use serde_json::{Map, Value, json};

use crate::scim::attr::{
    AttrDef, AttrType, Mutability, ResourceTypeDef, Returned, SchemaDef, Uniqueness,
};

/// URN of the core User schema.
pub const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// URN of the core Group schema.
pub const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// URN of the Enterprise User extension.
pub const ENTERPRISE_USER_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// URN of the `ServiceProviderConfig` schema.
pub const SERVICE_PROVIDER_CONFIG_URN: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
/// URN of the `ResourceType` schema.
pub const RESOURCE_TYPE_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
/// URN of the `Schema` schema.
pub const SCHEMA_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

// ---------------------------------------------------------------------------------------------
// Builders. Each returns an attribute with the RFC 7643 §7 defaults (single-valued, optional,
// not case-exact, readWrite, returned by default, no uniqueness); definitions override the rest
// with struct-update syntax.

const fn attr(name: &'static str, kind: AttrType, description: &'static str) -> AttrDef {
    AttrDef {
        name,
        kind,
        multi_valued: false,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        uniqueness: Uniqueness::None,
        canonical_values: &[],
        reference_types: &[],
        sub_attributes: &[],
        description,
    }
}

const fn string(name: &'static str, description: &'static str) -> AttrDef {
    attr(name, AttrType::String, description)
}

const fn boolean(name: &'static str, description: &'static str) -> AttrDef {
    attr(name, AttrType::Boolean, description)
}

const fn integer(name: &'static str, description: &'static str) -> AttrDef {
    attr(name, AttrType::Integer, description)
}

const fn date_time(name: &'static str, description: &'static str) -> AttrDef {
    attr(name, AttrType::DateTime, description)
}

const fn reference(
    name: &'static str,
    reference_types: &'static [&'static str],
    description: &'static str,
) -> AttrDef {
    AttrDef {
        reference_types,
        ..attr(name, AttrType::Reference, description)
    }
}

const fn complex(
    name: &'static str,
    sub_attributes: &'static [AttrDef],
    description: &'static str,
) -> AttrDef {
    AttrDef {
        sub_attributes,
        ..attr(name, AttrType::Complex, description)
    }
}

const fn multi_complex(
    name: &'static str,
    sub_attributes: &'static [AttrDef],
    description: &'static str,
) -> AttrDef {
    AttrDef {
        multi_valued: true,
        ..complex(name, sub_attributes, description)
    }
}

/// The same attribute, readOnly.
const fn read_only(def: AttrDef) -> AttrDef {
    AttrDef {
        mutability: Mutability::ReadOnly,
        ..def
    }
}

/// The same attribute, required.
const fn required(def: AttrDef) -> AttrDef {
    AttrDef {
        required: true,
        ..def
    }
}

/// The same attribute, case-exact.
const fn case_exact(def: AttrDef) -> AttrDef {
    AttrDef {
        case_exact: true,
        ..def
    }
}

/// The `type` sub-attribute of a multi-valued attribute (RFC 7643 §2.4).
const fn type_sub(canonical_values: &'static [&'static str]) -> AttrDef {
    AttrDef {
        canonical_values,
        ..string("type", "A label indicating the value's function.")
    }
}

const DISPLAY_SUB: AttrDef = string("display", "A human-readable name for the value.");
const PRIMARY_SUB: AttrDef = boolean(
    "primary",
    "Whether this is the preferred value; at most one value may be primary.",
);

// ---------------------------------------------------------------------------------------------
// Common attributes (RFC 7643 §3.1).

const META_SUBS: &[AttrDef] = &[
    read_only(case_exact(string(
        "resourceType",
        "The name of the resource type of the resource.",
    ))),
    read_only(date_time(
        "created",
        "When the resource was added to the service provider.",
    )),
    read_only(date_time(
        "lastModified",
        "When the resource was last changed; equals created until the first change.",
    )),
    read_only(reference(
        "location",
        &["uri"],
        "The URI of the resource being returned.",
    )),
    read_only(case_exact(string(
        "version",
        "The version (weak entity tag) of the resource.",
    ))),
];

/// Attributes every resource has: `id`, `externalId` and `meta` (RFC 7643 §3.1).
pub static COMMON: &[AttrDef] = &[
    AttrDef {
        returned: Returned::Always,
        uniqueness: Uniqueness::Server,
        ..read_only(case_exact(string(
            "id",
            "A unique identifier for the resource, assigned by the service provider.",
        )))
    },
    case_exact(string(
        "externalId",
        "An identifier for the resource as defined by the provisioning client.",
    )),
    read_only(complex("meta", META_SUBS, "Resource metadata.")),
];

// ---------------------------------------------------------------------------------------------
// User (RFC 7643 §4.1).

const NAME_SUBS: &[AttrDef] = &[
    string(
        "formatted",
        "The full name, formatted for display, including titles and suffixes.",
    ),
    string(
        "familyName",
        "The family name, or last name in most Western languages.",
    ),
    string(
        "givenName",
        "The given name, or first name in most Western languages.",
    ),
    string("middleName", "The middle name(s)."),
    string(
        "honorificPrefix",
        "The honorific prefix(es) or title, e.g. 'Ms.'.",
    ),
    string("honorificSuffix", "The honorific suffix(es), e.g. 'III'."),
];

const EMAIL_SUBS: &[AttrDef] = &[
    string("value", "The email address, canonicalized per RFC 5321."),
    DISPLAY_SUB,
    type_sub(&["work", "home", "other"]),
    PRIMARY_SUB,
];

const PHONE_SUBS: &[AttrDef] = &[
    string("value", "The phone number, preferably in RFC 3966 form."),
    DISPLAY_SUB,
    type_sub(&["work", "home", "mobile", "fax", "pager", "other"]),
    PRIMARY_SUB,
];

const IM_SUBS: &[AttrDef] = &[
    string("value", "The instant messaging address."),
    DISPLAY_SUB,
    type_sub(&["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"]),
    PRIMARY_SUB,
];

const PHOTO_SUBS: &[AttrDef] = &[
    reference("value", &["external"], "The URL of an image of the user."),
    DISPLAY_SUB,
    type_sub(&["photo", "thumbnail"]),
    PRIMARY_SUB,
];

const ADDRESS_SUBS: &[AttrDef] = &[
    string(
        "formatted",
        "The full mailing address, formatted for display or for a mailing label.",
    ),
    string(
        "streetAddress",
        "The street address, possibly with house number, street name, PO box and \
         multi-line extended street address information.",
    ),
    string("locality", "The city or locality."),
    string("region", "The state or region."),
    string("postalCode", "The zip code or postal code."),
    string(
        "country",
        "The country, as an ISO 3166-1 alpha-2 code (e.g. 'US').",
    ),
    type_sub(&["work", "home", "other"]),
    PRIMARY_SUB,
];

const GROUP_REF_SUBS: &[AttrDef] = &[
    read_only(case_exact(string("value", "The id of the group."))),
    read_only(reference(
        "$ref",
        &["User", "Group"],
        "The URI of the group resource.",
    )),
    read_only(string("display", "The display name of the group.")),
    read_only(AttrDef {
        canonical_values: &["direct", "indirect"],
        ..string(
            "type",
            "Whether the membership is direct or inherited through another group.",
        )
    }),
];

const ENTITLEMENT_SUBS: &[AttrDef] = &[
    string("value", "The value of the entitlement."),
    DISPLAY_SUB,
    type_sub(&[]),
    PRIMARY_SUB,
];

const ROLE_SUBS: &[AttrDef] = &[
    string("value", "The value of the role."),
    DISPLAY_SUB,
    type_sub(&[]),
    PRIMARY_SUB,
];

const CERTIFICATE_SUBS: &[AttrDef] = &[
    attr(
        "value",
        AttrType::Binary,
        "The value of an X.509 certificate, DER-encoded and base64-encoded.",
    ),
    DISPLAY_SUB,
    type_sub(&[]),
    PRIMARY_SUB,
];

/// The core User schema (RFC 7643 §4.1).
pub static USER: SchemaDef = SchemaDef {
    id: USER_URN,
    name: "User",
    description: "User Account",
    attributes: &[
        AttrDef {
            required: true,
            uniqueness: Uniqueness::Server,
            ..string(
                "userName",
                "Unique identifier for the user, typically used to sign in. REQUIRED.",
            )
        },
        complex("name", NAME_SUBS, "The components of the user's real name."),
        string("displayName", "The name of the user, suitable for display."),
        string("nickName", "The casual way to address the user."),
        reference(
            "profileUrl",
            &["external"],
            "A URI pointing to the user's online profile.",
        ),
        string("title", "The user's title, such as 'Vice President'."),
        string(
            "userType",
            "The relationship between the organization and the user, e.g. 'Employee'.",
        ),
        string(
            "preferredLanguage",
            "The user's preferred written or spoken language, as an HTTP Accept-Language \
             value.",
        ),
        string(
            "locale",
            "The user's default location for localization, e.g. 'en-US'.",
        ),
        string(
            "timezone",
            "The user's time zone, in IANA Time Zone database format, e.g. \
             'America/Los_Angeles'.",
        ),
        boolean("active", "The user's administrative status."),
        AttrDef {
            mutability: Mutability::WriteOnly,
            returned: Returned::Never,
            ..string(
                "password",
                "The user's cleartext password. Accepted on input but never stored or returned.",
            )
        },
        multi_complex("emails", EMAIL_SUBS, "Email addresses for the user."),
        multi_complex("phoneNumbers", PHONE_SUBS, "Phone numbers for the user."),
        multi_complex("ims", IM_SUBS, "Instant messaging addresses for the user."),
        multi_complex("photos", PHOTO_SUBS, "URLs of photos of the user."),
        multi_complex(
            "addresses",
            ADDRESS_SUBS,
            "Physical mailing addresses for the user.",
        ),
        read_only(multi_complex(
            "groups",
            GROUP_REF_SUBS,
            "The groups the user belongs to; changed through the Group resource only.",
        )),
        multi_complex(
            "entitlements",
            ENTITLEMENT_SUBS,
            "Entitlements of the user.",
        ),
        multi_complex("roles", ROLE_SUBS, "Roles of the user."),
        multi_complex(
            "x509Certificates",
            CERTIFICATE_SUBS,
            "X.509 certificates issued to the user.",
        ),
    ],
};

// ---------------------------------------------------------------------------------------------
// Enterprise User extension (RFC 7643 §4.3).

const MANAGER_SUBS: &[AttrDef] = &[
    case_exact(string(
        "value",
        "The id of the SCIM resource representing the manager.",
    )),
    reference(
        "$ref",
        &["User"],
        "The URI of the SCIM resource representing the manager.",
    ),
    read_only(string("displayName", "The display name of the manager.")),
];

/// The Enterprise User extension schema (RFC 7643 §4.3).
pub static ENTERPRISE_USER: SchemaDef = SchemaDef {
    id: ENTERPRISE_USER_URN,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: &[
        string(
            "employeeNumber",
            "A string identifier, typically numeric or alphanumeric, assigned to a person.",
        ),
        string("costCenter", "The name of a cost center."),
        string("organization", "The name of an organization."),
        string("division", "The name of a division."),
        string("department", "The name of a department."),
        complex(
            "manager",
            MANAGER_SUBS,
            "The user's manager, referenced by the manager's SCIM id.",
        ),
    ],
};

// ---------------------------------------------------------------------------------------------
// Group (RFC 7643 §4.2).

const MEMBER_SUBS: &[AttrDef] = &[
    AttrDef {
        required: true,
        mutability: Mutability::Immutable,
        ..case_exact(string("value", "The id of the member."))
    },
    AttrDef {
        mutability: Mutability::Immutable,
        ..reference(
            "$ref",
            &["User", "Group"],
            "The URI of the member resource.",
        )
    },
    AttrDef {
        mutability: Mutability::Immutable,
        canonical_values: &["User", "Group"],
        ..string("type", "The type of the member resource.")
    },
    // Rendered from the member's own displayName; what a client sends here is not kept.
    read_only(string("display", "A human-readable name of the member.")),
];

/// The core Group schema (RFC 7643 §4.2).
pub static GROUP: SchemaDef = SchemaDef {
    id: GROUP_URN,
    name: "Group",
    description: "Group",
    attributes: &[
        AttrDef {
            required: true,
            uniqueness: Uniqueness::Server,
            ..string(
                "displayName",
                "A human-readable name for the group, unique per tenant. REQUIRED.",
            )
        },
        multi_complex("members", MEMBER_SUBS, "The members of the group."),
    ],
};

// ---------------------------------------------------------------------------------------------
// Resource types (RFC 7643 §6).

/// The `User` resource type, with the optional Enterprise User extension.
pub static USER_RESOURCE: ResourceTypeDef = ResourceTypeDef {
    name: "User",
    endpoint: "/Users",
    description: "User Account",
    schema: &USER,
    extensions: &[(&ENTERPRISE_USER, false)],
    common: COMMON,
};

/// The `Group` resource type, without extensions.
pub static GROUP_RESOURCE: ResourceTypeDef = ResourceTypeDef {
    name: "Group",
    endpoint: "/Groups",
    description: "Group",
    schema: &GROUP,
    extensions: &[],
    common: COMMON,
};

// ---------------------------------------------------------------------------------------------
// Schemas of the discovery resources (RFC 7643 §8.7.2). Everything in them is readOnly.

const SUPPORTED: AttrDef = read_only(required(boolean(
    "supported",
    "Whether the operation is supported.",
)));

const AUTHENTICATION_SCHEME_SUBS: &[AttrDef] = &[
    read_only(required(AttrDef {
        canonical_values: &[
            "oauth",
            "oauth2",
            "oauthbearertoken",
            "httpbasic",
            "httpdigest",
        ],
        ..string("type", "The authentication scheme.")
    })),
    read_only(required(string(
        "name",
        "The common name of the authentication scheme.",
    ))),
    read_only(required(string(
        "description",
        "A description of the authentication scheme.",
    ))),
    read_only(reference(
        "specUri",
        &["external"],
        "An HTTP-addressable URL pointing to the authentication scheme's specification.",
    )),
    read_only(reference(
        "documentationUri",
        &["external"],
        "An HTTP-addressable URL pointing to the authentication scheme's usage documentation.",
    )),
    read_only(boolean(
        "primary",
        "Whether this is the preferred authentication scheme.",
    )),
];

/// The `ServiceProviderConfig` schema (RFC 7643 §5, §8.7.2).
pub static SERVICE_PROVIDER_CONFIG: SchemaDef = SchemaDef {
    id: SERVICE_PROVIDER_CONFIG_URN,
    name: "Service Provider Configuration",
    description: "Schema for representing the service provider's configuration",
    attributes: &[
        read_only(reference(
            "documentationUri",
            &["external"],
            "An HTTP-addressable URL pointing to the service provider's help documentation.",
        )),
        read_only(required(complex(
            "patch",
            &[SUPPORTED],
            "A complex type that specifies PATCH configuration options.",
        ))),
        read_only(required(complex(
            "bulk",
            &[
                SUPPORTED,
                read_only(required(integer(
                    "maxOperations",
                    "The maximum number of operations in one bulk request.",
                ))),
                read_only(required(integer(
                    "maxPayloadSize",
                    "The maximum payload size of a bulk request, in bytes.",
                ))),
            ],
            "A complex type that specifies bulk configuration options.",
        ))),
        read_only(required(complex(
            "filter",
            &[
                SUPPORTED,
                read_only(required(integer(
                    "maxResults",
                    "The maximum number of resources returned in a response.",
                ))),
            ],
            "A complex type that specifies filter options.",
        ))),
        read_only(required(complex(
            "changePassword",
            &[SUPPORTED],
            "A complex type that specifies configuration options related to changing a \
             password.",
        ))),
        read_only(required(complex(
            "sort",
            &[SUPPORTED],
            "A complex type that specifies sort result options.",
        ))),
        read_only(required(complex(
            "etag",
            &[SUPPORTED],
            "A complex type that specifies ETag configuration options.",
        ))),
        read_only(required(multi_complex(
            "authenticationSchemes",
            AUTHENTICATION_SCHEME_SUBS,
            "The authentication schemes supported by the service provider.",
        ))),
    ],
};

/// The `ResourceType` schema (RFC 7643 §6, §8.7.2).
pub static RESOURCE_TYPE: SchemaDef = SchemaDef {
    id: RESOURCE_TYPE_URN,
    name: "ResourceType",
    description: "Specifies the schema that describes a SCIM resource type",
    attributes: &[
        read_only(string(
            "id",
            "The resource type's server unique id; the same as the name.",
        )),
        read_only(required(string("name", "The resource type name."))),
        read_only(string(
            "description",
            "The resource type's human-readable description.",
        )),
        read_only(required(reference(
            "endpoint",
            &["uri"],
            "The resource type's HTTP-addressable endpoint relative to the base URL.",
        ))),
        read_only(required(case_exact(reference(
            "schema",
            &["uri"],
            "The resource type's primary or base schema URI.",
        )))),
        read_only(multi_complex(
            "schemaExtensions",
            &[
                read_only(required(case_exact(reference(
                    "schema",
                    &["uri"],
                    "The URI of a schema extension.",
                )))),
                read_only(required(boolean(
                    "required",
                    "Whether resources of this type must include the extension.",
                ))),
            ],
            "A list of URIs of the resource type's schema extensions.",
        )),
    ],
};

const CHARACTERISTIC_NAME: AttrDef = read_only(required(case_exact(string(
    "name",
    "The attribute's name.",
))));
const CHARACTERISTIC_TYPE: AttrDef = read_only(required(AttrDef {
    canonical_values: &[
        "string",
        "complex",
        "boolean",
        "decimal",
        "integer",
        "dateTime",
        "reference",
        "binary",
    ],
    ..string("type", "The attribute's data type.")
}));
const CHARACTERISTIC_MULTI_VALUED: AttrDef = read_only(required(boolean(
    "multiValued",
    "Whether the attribute is multi-valued.",
)));
const CHARACTERISTIC_DESCRIPTION: AttrDef = read_only(string(
    "description",
    "A human-readable description of the attribute.",
));
const CHARACTERISTIC_REQUIRED: AttrDef = read_only(required(boolean(
    "required",
    "Whether the attribute is required.",
)));
const CHARACTERISTIC_CANONICAL_VALUES: AttrDef = read_only(AttrDef {
    multi_valued: true,
    ..string(
        "canonicalValues",
        "A collection of suggested canonical values.",
    )
});
const CHARACTERISTIC_CASE_EXACT: AttrDef = read_only(boolean(
    "caseExact",
    "Whether string values are compared case-sensitively.",
));
const CHARACTERISTIC_MUTABILITY: AttrDef = read_only(AttrDef {
    canonical_values: &["readOnly", "readWrite", "immutable", "writeOnly"],
    ..string(
        "mutability",
        "Whether and how the attribute may be written.",
    )
});
const CHARACTERISTIC_RETURNED: AttrDef = read_only(AttrDef {
    canonical_values: &["always", "never", "default", "request"],
    ..string("returned", "When the attribute is returned in a response.")
});
const CHARACTERISTIC_UNIQUENESS: AttrDef = read_only(AttrDef {
    canonical_values: &["none", "server", "global"],
    ..string(
        "uniqueness",
        "How the service provider enforces uniqueness of values.",
    )
});
const CHARACTERISTIC_REFERENCE_TYPES: AttrDef = read_only(AttrDef {
    multi_valued: true,
    ..string(
        "referenceTypes",
        "The SCIM resource types, 'external' or 'uri' that a reference may point at.",
    )
});

/// The `Schema` schema (RFC 7643 §7, §8.7.2).
pub static SCHEMA: SchemaDef = SchemaDef {
    id: SCHEMA_URN,
    name: "Schema",
    description: "Specifies the schema attribute",
    attributes: &[
        read_only(required(case_exact(string(
            "id",
            "The unique URI of the schema.",
        )))),
        read_only(string("name", "The schema's human-readable name.")),
        read_only(string(
            "description",
            "The schema's human-readable description.",
        )),
        read_only(required(multi_complex(
            "attributes",
            &[
                CHARACTERISTIC_NAME,
                CHARACTERISTIC_TYPE,
                CHARACTERISTIC_MULTI_VALUED,
                CHARACTERISTIC_DESCRIPTION,
                CHARACTERISTIC_REQUIRED,
                CHARACTERISTIC_CANONICAL_VALUES,
                CHARACTERISTIC_CASE_EXACT,
                CHARACTERISTIC_MUTABILITY,
                CHARACTERISTIC_RETURNED,
                CHARACTERISTIC_UNIQUENESS,
                CHARACTERISTIC_REFERENCE_TYPES,
                read_only(multi_complex(
                    "subAttributes",
                    &[
                        CHARACTERISTIC_NAME,
                        CHARACTERISTIC_TYPE,
                        CHARACTERISTIC_MULTI_VALUED,
                        CHARACTERISTIC_DESCRIPTION,
                        CHARACTERISTIC_REQUIRED,
                        CHARACTERISTIC_CANONICAL_VALUES,
                        CHARACTERISTIC_CASE_EXACT,
                        CHARACTERISTIC_MUTABILITY,
                        CHARACTERISTIC_RETURNED,
                        CHARACTERISTIC_UNIQUENESS,
                        CHARACTERISTIC_REFERENCE_TYPES,
                    ],
                    "The sub-attributes of a complex attribute.",
                )),
            ],
            "The service provider's attribute definitions for the schema.",
        ))),
    ],
};

// ---------------------------------------------------------------------------------------------
// Lookups.

static ALL_SCHEMAS: [&SchemaDef; 6] = [
    &USER,
    &GROUP,
    &ENTERPRISE_USER,
    &SERVICE_PROVIDER_CONFIG,
    &RESOURCE_TYPE,
    &SCHEMA,
];

static RESOURCE_TYPES: [&ResourceTypeDef; 2] = [&USER_RESOURCE, &GROUP_RESOURCE];

/// Every schema served under `/Schemas`, in listing order.
pub fn all_schemas() -> &'static [&'static SchemaDef] {
    &ALL_SCHEMAS
}

/// Finds a served schema by its URN, ignoring case.
pub fn schema_by_id(urn: &str) -> Option<&'static SchemaDef> {
    ALL_SCHEMAS
        .iter()
        .copied()
        .find(|schema| schema.id.eq_ignore_ascii_case(urn))
}

/// Every resource type served under `/ResourceTypes`: `User`, then `Group`.
pub fn resource_types() -> &'static [&'static ResourceTypeDef] {
    &RESOURCE_TYPES
}

/// Finds a resource type by its name (`User`, `Group`), ignoring case.
pub fn resource_type_by_name(name: &str) -> Option<&'static ResourceTypeDef> {
    RESOURCE_TYPES
        .iter()
        .copied()
        .find(|rt| rt.name.eq_ignore_ascii_case(name))
}

// ---------------------------------------------------------------------------------------------
// Discovery documents.

/// Renders a schema as served by `/Schemas/{urn}` (RFC 7643 §7), for the tenant base URL
/// `base` (no trailing slash).
pub fn schema_json(schema: &SchemaDef, base: &str) -> Value {
    let attributes: Vec<Value> = schema.attributes.iter().map(attribute_json).collect();

    json!({
        "schemas": [SCHEMA_URN],
        "id": schema.id,
        "name": schema.name,
        "description": schema.description,
        "attributes": attributes,
        "meta": {
            "resourceType": "Schema",
            "location": format!("{base}/Schemas/{}", schema.id),
        },
    })
}

/// One attribute definition with every characteristic; `canonicalValues` when it has some,
/// `referenceTypes` for references and `subAttributes` for complex attributes.
fn attribute_json(def: &AttrDef) -> Value {
    let mut out = Map::new();
    out.insert("name".into(), def.name.into());
    out.insert("type".into(), def.kind.as_str().into());
    out.insert("multiValued".into(), def.multi_valued.into());
    out.insert("description".into(), def.description.into());
    out.insert("required".into(), def.required.into());
    out.insert("caseExact".into(), def.case_exact.into());
    out.insert("mutability".into(), def.mutability.as_str().into());
    out.insert("returned".into(), def.returned.as_str().into());
    out.insert("uniqueness".into(), def.uniqueness.as_str().into());

    if !def.canonical_values.is_empty() {
        out.insert("canonicalValues".into(), def.canonical_values.into());
    }
    if def.kind == AttrType::Reference {
        out.insert("referenceTypes".into(), def.reference_types.into());
    }
    if def.kind == AttrType::Complex {
        let subs: Vec<Value> = def.sub_attributes.iter().map(attribute_json).collect();
        out.insert("subAttributes".into(), subs.into());
    }
    Value::Object(out)
}

/// Renders a resource type as served by `/ResourceTypes/{name}` (RFC 7643 §6), for the
/// tenant base URL `base` (no trailing slash).
pub fn resource_type_json(rt: &ResourceTypeDef, base: &str) -> Value {
    let mut out = json!({
        "schemas": [RESOURCE_TYPE_URN],
        "id": rt.name,
        "name": rt.name,
        "endpoint": rt.endpoint,
        "description": rt.description,
        "schema": rt.schema.id,
        "meta": {
            "resourceType": "ResourceType",
            "location": format!("{base}/ResourceTypes/{}", rt.name),
        },
    });

    if !rt.extensions.is_empty() {
        let extensions: Vec<Value> = rt
            .extensions
            .iter()
            .map(|(schema, required)| json!({ "schema": schema.id, "required": required }))
            .collect();
        out["schemaExtensions"] = extensions.into();
    }
    out
}

/// Tenant-independent limits and links announced in `/ServiceProviderConfig`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// Whether `/Bulk` is served; the limits below are announced either way.
    pub bulk_supported: bool,
    /// Most operations accepted in one Bulk request.
    pub bulk_max_operations: u32,
    /// Largest Bulk request body accepted, in bytes.
    pub bulk_max_payload_bytes: u64,
    /// Most resources returned in one query response.
    pub filter_max_results: u32,
    /// Help page for administrators, if any.
    pub documentation_uri: Option<String>,
}

/// Renders `/ServiceProviderConfig` (RFC 7643 §5) for the tenant base URL `base`.
///
/// `base` has no trailing slash. PATCH, filtering, sorting and entity tags are announced as
/// supported, Bulk as `capabilities` says, password changes as not, with one bearer-token
/// authentication scheme.
pub fn service_provider_config_json(base: &str, capabilities: &Capabilities) -> Value {
    let mut out = json!({
        "schemas": [SERVICE_PROVIDER_CONFIG_URN],
        "patch": { "supported": true },
        "bulk": {
            "supported": capabilities.bulk_supported,
            "maxOperations": capabilities.bulk_max_operations,
            "maxPayloadSize": capabilities.bulk_max_payload_bytes,
        },
        "filter": { "supported": true, "maxResults": capabilities.filter_max_results },
        "changePassword": { "supported": false },
        "sort": { "supported": true },
        "etag": { "supported": true },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Bearer token",
            "description": "Authentication with a tenant-scoped bearer token in the \
                            Authorization header.",
            "specUri": "https://www.rfc-editor.org/info/rfc6750",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base}/ServiceProviderConfig"),
        },
    });

    if let Some(uri) = &capabilities.documentation_uri {
        out["documentationUri"] = uri.as_str().into();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "https://app.example.com/scim/v2/demo-shop";

    fn attribute<'a>(document: &'a Value, name: &str) -> &'a Value {
        document["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|attr| attr["name"] == name)
            .unwrap_or_else(|| panic!("no attribute {name}"))
    }

    fn sub_attribute<'a>(document: &'a Value, name: &str, sub: &str) -> &'a Value {
        attribute(document, name)["subAttributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|attr| attr["name"] == sub)
            .unwrap_or_else(|| panic!("no sub-attribute {name}.{sub}"))
    }

    fn walk(attributes: &'static [AttrDef], visit: &mut dyn FnMut(&'static AttrDef)) {
        for def in attributes {
            visit(def);
            walk(def.sub_attributes, visit);
        }
    }

    #[test]
    fn user_schema_publishes_every_rfc_7643_user_attribute() {
        let document = schema_json(&USER, BASE);

        for name in [
            "userName",
            "name",
            "displayName",
            "nickName",
            "profileUrl",
            "title",
            "userType",
            "preferredLanguage",
            "locale",
            "timezone",
            "active",
            "password",
            "emails",
            "phoneNumbers",
            "ims",
            "photos",
            "addresses",
            "groups",
            "entitlements",
            "roles",
            "x509Certificates",
        ] {
            attribute(&document, name);
        }
        for sub in [
            "formatted",
            "familyName",
            "givenName",
            "middleName",
            "honorificPrefix",
            "honorificSuffix",
        ] {
            sub_attribute(&document, "name", sub);
        }
        for sub in [
            "formatted",
            "streetAddress",
            "locality",
            "region",
            "postalCode",
            "country",
            "type",
            "primary",
        ] {
            sub_attribute(&document, "addresses", sub);
        }
        assert_eq!(document["attributes"].as_array().unwrap().len(), 21);
    }

    #[test]
    fn user_name_is_required_server_unique_and_not_case_exact() {
        let document = schema_json(&USER, BASE);

        let user_name = attribute(&document, "userName");

        assert_eq!(user_name["required"], true);
        assert_eq!(user_name["uniqueness"], "server");
        assert_eq!(user_name["caseExact"], false);
        assert_eq!(user_name["mutability"], "readWrite");
        assert_eq!(user_name["type"], "string");
        assert_eq!(user_name["multiValued"], false);
    }

    #[test]
    fn password_is_write_only_and_never_returned() {
        let document = schema_json(&USER, BASE);

        let password = attribute(&document, "password");

        assert_eq!(password["mutability"], "writeOnly");
        assert_eq!(password["returned"], "never");
    }

    #[test]
    fn user_groups_are_read_only_with_read_only_sub_attributes() {
        let document = schema_json(&USER, BASE);

        assert_eq!(attribute(&document, "groups")["mutability"], "readOnly");
        assert_eq!(attribute(&document, "groups")["multiValued"], true);
        for sub in ["value", "$ref", "display", "type"] {
            assert_eq!(
                sub_attribute(&document, "groups", sub)["mutability"],
                "readOnly"
            );
        }
        assert_eq!(
            sub_attribute(&document, "groups", "$ref")["referenceTypes"],
            json!(["User", "Group"])
        );
    }

    #[test]
    fn email_type_publishes_its_canonical_values() {
        let document = schema_json(&USER, BASE);

        assert_eq!(
            sub_attribute(&document, "emails", "type")["canonicalValues"],
            json!(["work", "home", "other"])
        );
        assert!(
            sub_attribute(&document, "emails", "value")
                .get("canonicalValues")
                .is_none()
        );
    }

    #[test]
    fn manager_value_is_optional_and_manager_display_name_read_only() {
        let document = schema_json(&ENTERPRISE_USER, BASE);

        assert_eq!(
            sub_attribute(&document, "manager", "value")["required"],
            false
        );
        assert_eq!(
            sub_attribute(&document, "manager", "displayName")["mutability"],
            "readOnly"
        );
        assert_eq!(attribute(&document, "manager")["multiValued"], false);
        for name in [
            "employeeNumber",
            "costCenter",
            "organization",
            "division",
            "department",
        ] {
            assert_eq!(attribute(&document, name)["type"], "string");
        }
    }

    #[test]
    fn group_display_name_is_required_and_member_value_immutable() {
        let document = schema_json(&GROUP, BASE);

        assert_eq!(attribute(&document, "displayName")["required"], true);
        assert_eq!(
            sub_attribute(&document, "members", "value")["mutability"],
            "immutable"
        );
        assert_eq!(
            sub_attribute(&document, "members", "type")["canonicalValues"],
            json!(["User", "Group"])
        );
        assert_eq!(
            sub_attribute(&document, "members", "$ref")["referenceTypes"],
            json!(["User", "Group"])
        );
    }

    #[test]
    fn schema_document_has_schema_urn_and_meta_location_under_schemas() {
        let document = schema_json(&USER, BASE);

        assert_eq!(document["schemas"], json!([SCHEMA_URN]));
        assert_eq!(document["id"], USER_URN);
        assert_eq!(document["name"], "User");
        assert_eq!(document["meta"]["resourceType"], "Schema");
        assert_eq!(
            document["meta"]["location"],
            "https://app.example.com/scim/v2/demo-shop/Schemas/\
             urn:ietf:params:scim:schemas:core:2.0:User"
        );
    }

    #[test]
    fn every_attribute_lists_all_characteristics() {
        for schema in all_schemas() {
            let document = schema_json(schema, BASE);
            for attr in document["attributes"].as_array().unwrap() {
                for key in [
                    "name",
                    "type",
                    "multiValued",
                    "description",
                    "required",
                    "caseExact",
                    "mutability",
                    "returned",
                    "uniqueness",
                ] {
                    assert!(attr.get(key).is_some(), "{} lacks {key}", attr["name"]);
                }
                assert_eq!(
                    attr.get("subAttributes").is_some(),
                    attr["type"] == "complex",
                    "{}",
                    attr["name"]
                );
                assert_eq!(
                    attr.get("referenceTypes").is_some(),
                    attr["type"] == "reference",
                    "{}",
                    attr["name"]
                );
            }
        }
    }

    #[test]
    fn definitions_are_consistent() {
        let mut roots: Vec<&'static [AttrDef]> = vec![COMMON];
        roots.extend(all_schemas().iter().map(|schema| schema.attributes));

        for attributes in roots {
            walk(attributes, &mut |def| {
                assert!(
                    !def.description.is_empty(),
                    "{} has no description",
                    def.name
                );
                assert_eq!(
                    def.kind == AttrType::Complex,
                    !def.sub_attributes.is_empty(),
                    "{}",
                    def.name
                );
                assert_eq!(
                    def.kind == AttrType::Reference,
                    !def.reference_types.is_empty(),
                    "{}",
                    def.name
                );
                let mut names: Vec<String> = def
                    .sub_attributes
                    .iter()
                    .map(|sub| sub.name.to_ascii_lowercase())
                    .collect();
                names.sort();
                names.dedup();
                assert_eq!(names.len(), def.sub_attributes.len(), "{}", def.name);
            });
        }
    }

    #[test]
    fn common_id_is_read_only_always_returned_case_exact_and_unique() {
        let id = COMMON.iter().find(|def| def.name == "id").unwrap();
        let external_id = COMMON.iter().find(|def| def.name == "externalId").unwrap();
        let meta = COMMON.iter().find(|def| def.name == "meta").unwrap();

        assert_eq!(id.mutability, Mutability::ReadOnly);
        assert_eq!(id.returned, Returned::Always);
        assert!(id.case_exact);
        assert_eq!(id.uniqueness, Uniqueness::Server);
        assert!(external_id.case_exact);
        assert_eq!(external_id.mutability, Mutability::ReadWrite);
        assert_eq!(meta.mutability, Mutability::ReadOnly);
        for sub in [
            "resourceType",
            "created",
            "lastModified",
            "location",
            "version",
        ] {
            assert!(meta.sub(sub).is_some(), "{sub}");
        }
    }

    #[test]
    fn schemas_are_found_by_urn_ignoring_case() {
        let found = schema_by_id("URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER");

        assert_eq!(found.map(|schema| schema.id), Some(ENTERPRISE_USER_URN));
        assert!(schema_by_id("urn:ietf:params:scim:schemas:core:2.0:Nope").is_none());
        let ids: Vec<&str> = all_schemas().iter().map(|schema| schema.id).collect();
        assert_eq!(
            ids,
            [
                USER_URN,
                GROUP_URN,
                ENTERPRISE_USER_URN,
                SERVICE_PROVIDER_CONFIG_URN,
                RESOURCE_TYPE_URN,
                SCHEMA_URN
            ]
        );
    }

    #[test]
    fn user_resource_type_lists_the_optional_enterprise_extension() {
        let document = resource_type_json(&USER_RESOURCE, BASE);

        assert_eq!(
            document,
            json!({
                "schemas": [RESOURCE_TYPE_URN],
                "id": "User",
                "name": "User",
                "endpoint": "/Users",
                "description": "User Account",
                "schema": USER_URN,
                "schemaExtensions": [{ "schema": ENTERPRISE_USER_URN, "required": false }],
                "meta": {
                    "resourceType": "ResourceType",
                    "location": format!("{BASE}/ResourceTypes/User"),
                },
            })
        );
    }

    #[test]
    fn group_resource_type_has_no_extensions() {
        let document = resource_type_json(&GROUP_RESOURCE, BASE);

        assert!(document.get("schemaExtensions").is_none());
        assert_eq!(document["schema"], GROUP_URN);
        assert_eq!(document["endpoint"], "/Groups");
        assert_eq!(
            document["meta"]["location"],
            format!("{BASE}/ResourceTypes/Group")
        );
    }

    #[test]
    fn resource_types_are_found_by_name_ignoring_case() {
        assert_eq!(
            resource_type_by_name("user").map(|rt| rt.name),
            Some("User")
        );
        assert_eq!(
            resource_type_by_name("GROUP").map(|rt| rt.name),
            Some("Group")
        );
        assert!(resource_type_by_name("Device").is_none());
        let names: Vec<&str> = resource_types().iter().map(|rt| rt.name).collect();
        assert_eq!(names, ["User", "Group"]);
    }

    #[test]
    fn every_resource_type_schema_is_served() {
        for rt in resource_types() {
            assert!(schema_by_id(rt.schema.id).is_some());
            for (extension, _) in rt.extensions {
                assert!(schema_by_id(extension.id).is_some());
            }
        }
    }

    #[test]
    fn service_provider_config_announces_capabilities_and_bearer_tokens() {
        let capabilities = Capabilities {
            bulk_supported: true,
            bulk_max_operations: 100,
            bulk_max_payload_bytes: 1_048_576,
            filter_max_results: 200,
            documentation_uri: Some("https://docs.example.com/scim".to_owned()),
        };

        let document = service_provider_config_json(BASE, &capabilities);

        assert_eq!(document["schemas"], json!([SERVICE_PROVIDER_CONFIG_URN]));
        assert_eq!(
            document["documentationUri"],
            "https://docs.example.com/scim"
        );
        assert_eq!(document["patch"], json!({ "supported": true }));
        assert_eq!(
            document["bulk"],
            json!({ "supported": true, "maxOperations": 100, "maxPayloadSize": 1_048_576 })
        );
        assert_eq!(
            document["filter"],
            json!({ "supported": true, "maxResults": 200 })
        );
        assert_eq!(document["changePassword"], json!({ "supported": false }));
        assert_eq!(document["sort"], json!({ "supported": true }));
        assert_eq!(document["etag"], json!({ "supported": true }));
        let schemes = document["authenticationSchemes"].as_array().unwrap();
        assert_eq!(schemes.len(), 1);
        assert_eq!(schemes[0]["type"], "oauthbearertoken");
        assert_eq!(schemes[0]["name"], "Bearer token");
        assert_eq!(schemes[0]["primary"], true);
        assert!(
            schemes[0]["description"]
                .as_str()
                .is_some_and(|d| !d.is_empty())
        );
        assert_eq!(
            document["meta"],
            json!({
                "resourceType": "ServiceProviderConfig",
                "location": format!("{BASE}/ServiceProviderConfig"),
            })
        );
    }

    #[test]
    fn service_provider_config_omits_an_absent_documentation_uri() {
        let capabilities = Capabilities {
            bulk_supported: true,
            bulk_max_operations: 1,
            bulk_max_payload_bytes: 1,
            filter_max_results: 1,
            documentation_uri: None,
        };

        let document = service_provider_config_json(BASE, &capabilities);

        assert!(document.get("documentationUri").is_none());
    }

    #[test]
    fn discovery_schemas_describe_their_own_documents() {
        let spc = schema_json(&SERVICE_PROVIDER_CONFIG, BASE);
        let resource_type = schema_json(&RESOURCE_TYPE, BASE);
        let schema = schema_json(&SCHEMA, BASE);

        for name in ["patch", "bulk", "filter", "changePassword", "sort", "etag"] {
            assert_eq!(sub_attribute(&spc, name, "supported")["type"], "boolean");
        }
        sub_attribute(&spc, "authenticationSchemes", "type");
        sub_attribute(&resource_type, "schemaExtensions", "required");
        let characteristics = sub_attribute(&schema, "attributes", "subAttributes");
        assert_eq!(
            characteristics["subAttributes"].as_array().unwrap().len(),
            11
        );
        assert_eq!(attribute(&spc, "bulk")["mutability"], "readOnly");
    }
}
