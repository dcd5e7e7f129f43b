//! Test-only resource types shaped like the real User and Group definitions, so the filter
//! and PATCH engines can be exercised before the production schemas exist.

use crate::scim::attr::{
    AttrDef, AttrType, Mutability, ResourceTypeDef, Returned, SchemaDef, Uniqueness,
};

/// The enterprise extension URN used by the fixture.
pub const ENTERPRISE_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

const fn def(name: &'static str, kind: AttrType) -> AttrDef {
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
        description: "",
    }
}

const fn multi_complex(name: &'static str, subs: &'static [AttrDef]) -> AttrDef {
    AttrDef {
        multi_valued: true,
        sub_attributes: subs,
        ..def(name, AttrType::Complex)
    }
}

const EMAIL_SUBS: &[AttrDef] = &[
    def("value", AttrType::String),
    def("type", AttrType::String),
    def("primary", AttrType::Boolean),
    def("display", AttrType::String),
];

const PHONE_SUBS: &[AttrDef] = &[
    def("value", AttrType::String),
    def("type", AttrType::String),
    def("primary", AttrType::Boolean),
];

const ADDRESS_SUBS: &[AttrDef] = &[
    def("type", AttrType::String),
    def("streetAddress", AttrType::String),
    def("locality", AttrType::String),
    def("postalCode", AttrType::String),
    def("country", AttrType::String),
    def("primary", AttrType::Boolean),
];

const NAME_SUBS: &[AttrDef] = &[
    def("formatted", AttrType::String),
    def("givenName", AttrType::String),
    def("familyName", AttrType::String),
];

const GROUP_REF_SUBS: &[AttrDef] = &[
    AttrDef {
        mutability: Mutability::ReadOnly,
        ..def("value", AttrType::String)
    },
    AttrDef {
        mutability: Mutability::ReadOnly,
        ..def("display", AttrType::String)
    },
];

const CERT_SUBS: &[AttrDef] = &[def("value", AttrType::Binary)];

static USER_SCHEMA: SchemaDef = SchemaDef {
    id: "urn:ietf:params:scim:schemas:core:2.0:User",
    name: "User",
    description: "",
    attributes: &[
        AttrDef {
            required: true,
            uniqueness: Uniqueness::Server,
            ..def("userName", AttrType::String)
        },
        AttrDef {
            sub_attributes: NAME_SUBS,
            ..def("name", AttrType::Complex)
        },
        def("displayName", AttrType::String),
        def("active", AttrType::Boolean),
        def("loginCount", AttrType::Integer),
        multi_complex("emails", EMAIL_SUBS),
        multi_complex("phoneNumbers", PHONE_SUBS),
        multi_complex("addresses", ADDRESS_SUBS),
        multi_complex("x509Certificates", CERT_SUBS),
        AttrDef {
            mutability: Mutability::ReadOnly,
            ..multi_complex("groups", GROUP_REF_SUBS)
        },
    ],
};

const MANAGER_SUBS: &[AttrDef] = &[
    def("value", AttrType::String),
    def("$ref", AttrType::Reference),
    AttrDef {
        mutability: Mutability::ReadOnly,
        ..def("displayName", AttrType::String)
    },
];

static ENTERPRISE_SCHEMA: SchemaDef = SchemaDef {
    id: ENTERPRISE_URN,
    name: "EnterpriseUser",
    description: "",
    attributes: &[
        def("employeeNumber", AttrType::String),
        def("department", AttrType::String),
        AttrDef {
            sub_attributes: MANAGER_SUBS,
            ..def("manager", AttrType::Complex)
        },
    ],
};

const META_SUBS: &[AttrDef] = &[
    AttrDef {
        mutability: Mutability::ReadOnly,
        ..def("resourceType", AttrType::String)
    },
    AttrDef {
        mutability: Mutability::ReadOnly,
        ..def("created", AttrType::DateTime)
    },
    AttrDef {
        mutability: Mutability::ReadOnly,
        ..def("lastModified", AttrType::DateTime)
    },
];

const COMMON: &[AttrDef] = &[
    AttrDef {
        case_exact: true,
        mutability: Mutability::ReadOnly,
        returned: Returned::Always,
        uniqueness: Uniqueness::Server,
        ..def("id", AttrType::String)
    },
    AttrDef {
        case_exact: true,
        ..def("externalId", AttrType::String)
    },
    AttrDef {
        mutability: Mutability::ReadOnly,
        sub_attributes: META_SUBS,
        ..def("meta", AttrType::Complex)
    },
];

/// A User-like resource type with the enterprise extension.
pub static USER: ResourceTypeDef = ResourceTypeDef {
    name: "User",
    endpoint: "/Users",
    description: "",
    schema: &USER_SCHEMA,
    extensions: &[(&ENTERPRISE_SCHEMA, false)],
    common: COMMON,
};

const MEMBER_SUBS: &[AttrDef] = &[
    AttrDef {
        mutability: Mutability::Immutable,
        ..def("value", AttrType::String)
    },
    def("type", AttrType::String),
    def("display", AttrType::String),
    def("$ref", AttrType::Reference),
];

static GROUP_SCHEMA: SchemaDef = SchemaDef {
    id: "urn:ietf:params:scim:schemas:core:2.0:Group",
    name: "Group",
    description: "",
    attributes: &[
        AttrDef {
            required: true,
            ..def("displayName", AttrType::String)
        },
        multi_complex("members", MEMBER_SUBS),
    ],
};

/// A Group-like resource type.
pub static GROUP: ResourceTypeDef = ResourceTypeDef {
    name: "Group",
    endpoint: "/Groups",
    description: "",
    schema: &GROUP_SCHEMA,
    extensions: &[],
    common: COMMON,
};
