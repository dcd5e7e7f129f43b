//! The slice of the Admin GraphQL schema the stand-in serves: which fields each type has
//! and what they return. Used to validate a document before it runs and to cost it.

/// The root type of queries.
pub const QUERY_ROOT: &str = "QueryRoot";
/// The root type of mutations.
pub const MUTATION_ROOT: &str = "Mutation";

/// The type a field of `parent` returns (list-ness aside), or `None` when `parent` has no
/// such field.
pub fn field_type(parent: &str, field: &str) -> Option<&'static str> {
    let found = match (parent, field) {
        (QUERY_ROOT, "shop") => "Shop",
        (QUERY_ROOT, "customer" | "customerByIdentifier") => "Customer",
        (QUERY_ROOT, "customers") => "CustomerConnection",

        (MUTATION_ROOT, "customerCreate") => "CustomerCreatePayload",
        (MUTATION_ROOT, "customerUpdate") => "CustomerUpdatePayload",
        (MUTATION_ROOT, "customerSet") => "CustomerSetPayload",
        (MUTATION_ROOT, "customerDelete") => "CustomerDeletePayload",
        (MUTATION_ROOT, "tagsAdd") => "TagsAddPayload",
        (MUTATION_ROOT, "tagsRemove") => "TagsRemovePayload",
        (MUTATION_ROOT, "metafieldDefinitionCreate") => "MetafieldDefinitionCreatePayload",
        (MUTATION_ROOT, "customerRequestDataErasure") => "CustomerRequestDataErasurePayload",

        ("Shop", "id") => "ID",
        ("Shop", "name" | "email" | "myshopifyDomain") => "String",
        ("Shop", "currencyCode") => "CurrencyCode",
        ("Shop", "plan") => "ShopPlan",
        ("ShopPlan", "displayName" | "publicDisplayName") => "String",
        ("ShopPlan", "partnerDevelopment" | "shopifyPlus") => "Boolean",

        ("Customer" | "Node", "id") => "ID",
        (
            "Customer",
            "firstName" | "lastName" | "displayName" | "email" | "phone" | "note" | "locale"
            | "tags",
        ) => "String",
        ("Customer", "state") => "CustomerState",
        ("Customer", "createdAt" | "updatedAt") => "DateTime",
        ("Customer", "numberOfOrders" | "legacyResourceId") => "UnsignedInt64",
        ("Customer", "taxExempt" | "verifiedEmail" | "canDelete") => "Boolean",
        ("Customer", "defaultEmailAddress") => "CustomerEmailAddress",
        ("Customer", "defaultPhoneNumber") => "CustomerPhoneNumber",
        ("Customer", "amountSpent") => "MoneyV2",
        ("Customer", "metafield") => "Metafield",
        ("Customer", "metafields") => "MetafieldConnection",
        ("CustomerEmailAddress", "emailAddress") => "String",
        ("CustomerEmailAddress", "marketingState") => "CustomerEmailAddressMarketingState",
        ("CustomerPhoneNumber", "phoneNumber") => "String",
        ("CustomerPhoneNumber", "marketingState") => "CustomerSmsMarketingState",
        ("MoneyV2", "amount") => "Decimal",
        ("MoneyV2", "currencyCode") => "CurrencyCode",
        ("Metafield", "id") => "ID",
        ("Metafield", "namespace" | "key" | "type" | "value") => "String",
        ("Metafield", "createdAt" | "updatedAt") => "DateTime",

        ("CustomerConnection", "edges") => "CustomerEdge",
        ("CustomerConnection", "nodes") => "Customer",
        ("MetafieldConnection", "edges") => "MetafieldEdge",
        ("MetafieldConnection", "nodes") => "Metafield",
        ("CustomerConnection" | "MetafieldConnection", "pageInfo") => "PageInfo",
        ("CustomerEdge" | "MetafieldEdge", "cursor") => "String",
        ("CustomerEdge", "node") => "Customer",
        ("MetafieldEdge", "node") => "Metafield",
        ("PageInfo", "hasNextPage" | "hasPreviousPage") => "Boolean",
        ("PageInfo", "startCursor" | "endCursor") => "String",

        ("CustomerCreatePayload" | "CustomerUpdatePayload" | "CustomerSetPayload", "customer") => {
            "Customer"
        }
        ("CustomerCreatePayload" | "CustomerUpdatePayload", "userErrors") => "UserError",
        ("CustomerSetPayload", "userErrors") => "CustomerSetUserError",
        ("CustomerDeletePayload", "deletedCustomerId") => "ID",
        ("CustomerDeletePayload", "shop") => "Shop",
        ("CustomerDeletePayload" | "TagsAddPayload" | "TagsRemovePayload", "userErrors") => {
            "UserError"
        }
        ("TagsAddPayload" | "TagsRemovePayload", "node") => "Node",
        ("MetafieldDefinitionCreatePayload", "createdDefinition") => "MetafieldDefinition",
        ("MetafieldDefinitionCreatePayload", "userErrors") => "MetafieldDefinitionCreateUserError",
        ("MetafieldDefinition", "id") => "ID",
        ("MetafieldDefinition", "name" | "namespace" | "key") => "String",
        ("MetafieldDefinition", "type") => "MetafieldDefinitionType",
        ("MetafieldDefinition", "ownerType") => "MetafieldOwnerType",
        ("MetafieldDefinitionType", "name" | "category") => "String",
        ("CustomerRequestDataErasurePayload", "customerId") => "ID",
        ("CustomerRequestDataErasurePayload", "userErrors") => {
            "CustomerRequestDataErasureUserError"
        }

        (
            "UserError"
            | "CustomerSetUserError"
            | "MetafieldDefinitionCreateUserError"
            | "CustomerRequestDataErasureUserError",
            "field" | "message",
        ) => "String",
        ("CustomerSetUserError", "code") => "CustomerSetUserErrorCode",
        ("MetafieldDefinitionCreateUserError", "code") => "MetafieldDefinitionCreateUserErrorCode",
        ("CustomerRequestDataErasureUserError", "code") => "CustomerRequestDataErasureErrorCode",
        _ => return None,
    };
    Some(found)
}

/// Whether values of `type_name` are scalars or enums (no selection set).
pub fn is_leaf(type_name: &str) -> bool {
    matches!(
        type_name,
        "ID" | "String"
            | "Boolean"
            | "Int"
            | "Float"
            | "DateTime"
            | "Decimal"
            | "UnsignedInt64"
            | "CurrencyCode"
            | "CustomerState"
            | "CustomerEmailAddressMarketingState"
            | "CustomerSmsMarketingState"
            | "MetafieldOwnerType"
    ) || type_name.ends_with("Code")
}

/// Whether a fragment on `condition` applies to an object of `concrete` type.
pub fn applies(condition: &str, concrete: &str) -> bool {
    condition == concrete || (condition == "Node" && concrete == "Customer")
}

/// Whether `condition` is a type a field of static type `static_type` can hold.
pub fn can_spread(condition: &str, static_type: &str) -> bool {
    condition == static_type
        || (static_type == "Node" && condition == "Customer")
        || (static_type == "Customer" && condition == "Node")
}

/// Whether `type_name` is a paginated connection, costed by its `first`/`last` argument.
pub fn is_connection(type_name: &str) -> bool {
    type_name.ends_with("Connection")
}
