//! The Admin GraphQL API: each operation the app needs, with the fields selected, the
//! user errors Shopify gives, and costs on every answer.

use serde_json::{Value, json};

use crate::helpers::{SHOP, TestStandIn, numeric_id};

const CREATE: &str = "mutation Create($input: CustomerInput!) {
  customerCreate(input: $input) { customer { id email } userErrors { field message } }
}";

const SET_BY_CUSTOM_ID: &str = "mutation ScimUpsert($ext: String!, $input: CustomerSetInput!) {
  customerSet(identifier: {customId: {namespace: \"$app\", key: \"scim_external_id\", value: $ext}},
              input: $input) {
    customer { id firstName updatedAt tags defaultEmailAddress { emailAddress }
               metafield(namespace: \"$app\", key: \"scim_external_id\") { value type } }
    userErrors { field message code }
  }
}";

const DEFINE_EXTERNAL_ID: &str = "mutation {
  metafieldDefinitionCreate(definition: {name: \"SCIM external id\", namespace: \"$app\",
      key: \"scim_external_id\", type: \"id\", ownerType: CUSTOMER}) {
    createdDefinition { id namespace key type { name } ownerType }
    userErrors { field message code }
  }
}";

fn user_errors(body: &Value, field: &str) -> Vec<String> {
    body["data"][field]["userErrors"]
        .as_array()
        .unwrap_or_else(|| panic!("no userErrors in {body}"))
        .iter()
        .map(|error| error["message"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn customer_create_answers_exactly_the_selected_fields_with_aliases_and_fragments() {
    let test = TestStandIn::start().await;
    let token = test.token();

    let (status, body) = test
        .graphql(
            &token,
            "mutation($input: CustomerInput!) {
               made: customerCreate(input: $input) {
                 customer {
                   ...Names kind: __typename contact: defaultEmailAddress { emailAddress }
                 }
                 userErrors { message }
               }
             }
             fragment Names on Customer { firstName lastName }",
            json!({ "input": {
                "email": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace",
            } }),
        )
        .await;

    assert_eq!(status, 200);
    assert_eq!(
        body["data"],
        json!({ "made": {
            "customer": {
                "firstName": "Ada",
                "lastName": "Lovelace",
                "kind": "Customer",
                "contact": { "emailAddress": "ada@example.com" },
            },
            "userErrors": [],
        }})
    );
    assert_eq!(test.standin.customers(SHOP).unwrap().len(), 1);
}

#[tokio::test]
async fn customer_create_reports_invalid_and_duplicate_emails_and_phones_as_user_errors() {
    let test = TestStandIn::start().await;
    let token = test.token();
    test.create_customer(
        &token,
        json!({ "email": "ada@example.com", "phone": "+15556251199" }),
    )
    .await;

    let create = |input: Value| test.graphql(&token, CREATE, json!({ "input": input }));
    let (_, invalid) = create(json!({ "email": "not-an-email" })).await;
    let (_, duplicate_email) = create(json!({ "email": "ADA@example.com" })).await;
    let (_, duplicate_phone) =
        create(json!({ "phone": "+1 555 625 1199", "firstName": "B" })).await;
    let (_, invalid_phone) = create(json!({ "phone": "12", "firstName": "C" })).await;

    assert_eq!(
        user_errors(&invalid, "customerCreate"),
        ["Email is invalid"]
    );
    assert_eq!(
        invalid["data"]["customerCreate"]["userErrors"][0]["field"],
        json!(["email"])
    );
    assert_eq!(invalid["data"]["customerCreate"]["customer"], Value::Null);
    assert_eq!(
        user_errors(&duplicate_email, "customerCreate"),
        ["Email has already been taken"]
    );
    assert_eq!(
        user_errors(&duplicate_phone, "customerCreate"),
        ["Phone has already been taken"]
    );
    assert_eq!(
        user_errors(&invalid_phone, "customerCreate"),
        ["Phone is invalid"]
    );
    assert_eq!(test.standin.customers(SHOP).unwrap().len(), 1);
}

#[tokio::test]
async fn customer_update_changes_the_given_fields_and_leaves_the_rest() {
    let test = TestStandIn::start().await;
    let token = test.token();
    let id = test
        .create_customer(
            &token,
            json!({ "email": "ada@example.com", "firstName": "Ada", "note": "keep" }),
        )
        .await;

    let (_, body) = test
        .graphql(
            &token,
            "mutation($input: CustomerInput!) { customerUpdate(input: $input) {
               customer { firstName note email } userErrors { field message } } }",
            json!({ "input": { "id": id, "firstName": "Augusta", "email": null } }),
        )
        .await;

    assert_eq!(
        body["data"]["customerUpdate"]["customer"],
        json!({ "firstName": "Augusta", "note": "keep", "email": null })
    );
}

#[tokio::test]
async fn customer_set_with_a_custom_id_creates_once_then_updates_the_same_customer() {
    let test = TestStandIn::start().await;
    let token = test.token();
    let (_, defined) = test.graphql(&token, DEFINE_EXTERNAL_ID, json!({})).await;

    let upsert = |first_name: &str| {
        test.graphql(
            &token,
            SET_BY_CUSTOM_ID,
            json!({
                "ext": "scim-0001",
                "input": { "firstName": first_name, "email": "ada@example.com" },
            }),
        )
    };
    let (_, created) = upsert("Ada").await;
    let (_, updated) = upsert("Augusta").await;

    assert_eq!(
        defined["data"]["metafieldDefinitionCreate"]["createdDefinition"]["namespace"],
        "app--1"
    );
    let first = &created["data"]["customerSet"]["customer"];
    let second = &updated["data"]["customerSet"]["customer"];
    assert_eq!(created["data"]["customerSet"]["userErrors"], json!([]));
    assert_eq!(first["id"], second["id"]);
    assert_eq!(second["firstName"], "Augusta");
    assert_eq!(
        second["metafield"],
        json!({ "value": "scim-0001", "type": "id" })
    );
    assert_eq!(
        second["defaultEmailAddress"]["emailAddress"],
        "ada@example.com"
    );
    assert_eq!(test.standin.customers(SHOP).unwrap().len(), 1);
}

#[tokio::test]
async fn customer_set_by_custom_id_needs_the_id_metafield_definition() {
    let test = TestStandIn::start().await;
    let token = test.token();

    let (_, body) = test
        .graphql(
            &token,
            SET_BY_CUSTOM_ID,
            json!({ "ext": "x", "input": { "firstName": "Ada" } }),
        )
        .await;

    let errors = &body["data"]["customerSet"]["userErrors"];
    assert_eq!(errors[0]["field"], json!(["identifier", "customId"]));
    assert_eq!(errors[0]["code"], "INVALID");
    assert!(test.standin.customers(SHOP).unwrap().is_empty());
}

#[tokio::test]
async fn customer_set_without_an_identifier_creates_and_by_email_upserts() {
    let test = TestStandIn::start().await;
    let token = test.token();
    let set = "mutation($identifier: CustomerSetIdentifiers, $input: CustomerSetInput!) {
      customerSet(identifier: $identifier, input: $input) {
        customer { id lastName } userErrors { message } } }";

    let (_, created) = test
        .graphql(
            &token,
            set,
            json!({ "input": { "email": "bob@example.com", "lastName": "B" } }),
        )
        .await;
    let (_, updated) = test
        .graphql(
            &token,
            set,
            json!({
                "identifier": { "email": "bob@example.com" },
                "input": { "lastName": "Biller" },
            }),
        )
        .await;

    assert_eq!(
        created["data"]["customerSet"]["customer"]["id"],
        updated["data"]["customerSet"]["customer"]["id"]
    );
    assert_eq!(
        updated["data"]["customerSet"]["customer"]["lastName"],
        "Biller"
    );
}

#[tokio::test]
async fn customer_delete_fails_for_a_customer_with_orders_and_works_without() {
    let test = TestStandIn::start().await;
    let token = test.token();
    let buyer = test
        .create_customer(&token, json!({ "email": "buyer@example.com" }))
        .await;
    let browser = test
        .create_customer(&token, json!({ "email": "browser@example.com" }))
        .await;
    test.standin
        .add_order(SHOP, numeric_id(&buyer), 25.0)
        .unwrap();
    let delete = "mutation($id: ID!) { customerDelete(input: {id: $id}) {
      deletedCustomerId userErrors { field message } } }";

    let (_, refused) = test.graphql(&token, delete, json!({ "id": buyer })).await;
    let (_, deleted) = test.graphql(&token, delete, json!({ "id": browser })).await;

    assert_eq!(
        refused["data"]["customerDelete"]["deletedCustomerId"],
        Value::Null
    );
    assert_eq!(
        user_errors(&refused, "customerDelete"),
        ["Customer can’t be deleted because they have associated orders"]
    );
    assert_eq!(
        deleted["data"]["customerDelete"]["deletedCustomerId"],
        browser
    );
    let left: Vec<u64> = test
        .standin
        .customers(SHOP)
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(left, [numeric_id(&buyer)]);
}

#[tokio::test]
async fn tags_add_and_tags_remove_edit_tags_without_replacing_the_others() {
    let test = TestStandIn::start().await;
    let token = test.token();
    let id = test
        .create_customer(
            &token,
            json!({ "firstName": "Ada", "tags": ["merchant-own"] }),
        )
        .await;

    let (_, added) = test
        .graphql(
            &token,
            "mutation($id: ID!) { tagsAdd(id: $id, tags: [\"scim:staff\", \"scim:vip\"]) {
               node { id ... on Customer { tags } } userErrors { message } } }",
            json!({ "id": id }),
        )
        .await;
    let (_, removed) = test
        .graphql(
            &token,
            "mutation($id: ID!) { tagsRemove(id: $id, tags: \"scim:vip\") {
               node { ... on Customer { tags } } userErrors { message } } }",
            json!({ "id": id }),
        )
        .await;

    assert_eq!(
        added["data"]["tagsAdd"]["node"],
        json!({ "id": id, "tags": ["merchant-own", "scim:staff", "scim:vip"] })
    );
    assert_eq!(
        removed["data"]["tagsRemove"]["node"]["tags"],
        json!(["merchant-own", "scim:staff"])
    );
}

#[tokio::test]
async fn customer_by_identifier_finds_by_email_phone_id_and_custom_id_and_null_otherwise() {
    let test = TestStandIn::start().await;
    let token = test.token();
    test.graphql(&token, DEFINE_EXTERNAL_ID, json!({})).await;
    let (_, set) = test
        .graphql(
            &token,
            SET_BY_CUSTOM_ID,
            json!({
                "ext": "ext-1",
                "input": { "email": "ada@example.com", "phone": "+15550001111" },
            }),
        )
        .await;
    let id = set["data"]["customerSet"]["customer"]["id"].clone();
    let find = "query($identifier: CustomerIdentifierInput!) {
      customerByIdentifier(identifier: $identifier) { id } }";

    let mut found = Vec::new();
    for identifier in [
        json!({ "emailAddress": "ada@example.com" }),
        json!({ "phoneNumber": "+15550001111" }),
        json!({ "id": id }),
        json!({ "customId": { "namespace": "$app", "key": "scim_external_id", "value": "ext-1" } }),
        json!({ "emailAddress": "nobody@example.com" }),
    ] {
        let (_, body) = test
            .graphql(&token, find, json!({ "identifier": identifier }))
            .await;
        found.push(body["data"]["customerByIdentifier"].clone());
    }

    assert_eq!(found[..4], vec![json!({ "id": id }); 4]);
    assert_eq!(found[4], Value::Null);
}

#[tokio::test]
async fn customers_search_by_email_returns_matches_in_pages() {
    let test = TestStandIn::start().await;
    let token = test.token();
    for n in 0..3 {
        test.create_customer(
            &token,
            json!({ "email": format!("user{n}@example.com"), "tags": ["club"] }),
        )
        .await;
    }
    let search = "query($q: String, $after: String) {
      customers(first: 2, query: $q, after: $after) {
        edges { cursor node { email } } pageInfo { hasNextPage endCursor } } }";

    let (_, by_email) = test
        .graphql(&token, search, json!({ "q": "email:user1@example.com" }))
        .await;
    let (_, page_one) = test
        .graphql(&token, search, json!({ "q": "tag:club" }))
        .await;
    let cursor = page_one["data"]["customers"]["pageInfo"]["endCursor"].clone();
    let (_, page_two) = test
        .graphql(&token, search, json!({ "q": "tag:club", "after": cursor }))
        .await;

    let emails = |body: &Value| -> Vec<String> {
        body["data"]["customers"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|edge| edge["node"]["email"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(emails(&by_email), ["user1@example.com"]);
    assert_eq!(
        emails(&page_one),
        ["user0@example.com", "user1@example.com"]
    );
    assert_eq!(
        page_one["data"]["customers"]["pageInfo"]["hasNextPage"],
        true
    );
    assert_eq!(emails(&page_two), ["user2@example.com"]);
    assert_eq!(
        page_two["data"]["customers"]["pageInfo"]["hasNextPage"],
        false
    );
}

#[tokio::test]
async fn a_second_metafield_definition_with_the_same_key_is_refused() {
    let test = TestStandIn::start().await;
    let token = test.token();

    test.graphql(&token, DEFINE_EXTERNAL_ID, json!({})).await;
    let (_, again) = test.graphql(&token, DEFINE_EXTERNAL_ID, json!({})).await;

    let payload = &again["data"]["metafieldDefinitionCreate"];
    assert_eq!(payload["createdDefinition"], Value::Null);
    assert_eq!(payload["userErrors"][0]["code"], "TAKEN");
    assert_eq!(test.standin.metafield_definitions(SHOP).unwrap().len(), 1);
}

#[tokio::test]
async fn customer_request_data_erasure_marks_the_customer_and_refuses_unknown_ones() {
    let test = TestStandIn::start().await;
    let token = test.token();
    let id = test
        .create_customer(&token, json!({ "firstName": "Ada" }))
        .await;
    let erase = "mutation($id: ID!) { customerRequestDataErasure(customerId: $id) {
      customerId userErrors { field message code } } }";

    let (_, requested) = test.graphql(&token, erase, json!({ "id": id })).await;
    let (_, unknown) = test
        .graphql(&token, erase, json!({ "id": "gid://shopify/Customer/1" }))
        .await;

    assert_eq!(
        requested["data"]["customerRequestDataErasure"]["customerId"],
        id
    );
    let customer = test.standin.customer(SHOP, numeric_id(&id)).unwrap();
    assert!(customer.data_erasure_requested_at.is_some());
    assert_eq!(
        unknown["data"]["customerRequestDataErasure"]["userErrors"][0]["code"],
        "DOES_NOT_EXIST"
    );
}

#[tokio::test]
async fn shop_plan_reports_the_plan_set_through_the_control_api() {
    let test = TestStandIn::start().await;
    let token = test.token();
    test.standin
        .set_plan(SHOP, shopify_standin::Plan::Plus)
        .unwrap();

    let (_, body) = test
        .graphql(
            &token,
            "{ shop { myshopifyDomain plan { displayName shopifyPlus } } }",
            json!({}),
        )
        .await;

    assert_eq!(
        body["data"]["shop"],
        json!({
            "myshopifyDomain": SHOP,
            "plan": { "displayName": "Shopify Plus", "shopifyPlus": true },
        })
    );
}

#[tokio::test]
async fn unknown_fields_bad_syntax_and_missing_variables_are_errors_with_costs() {
    let test = TestStandIn::start().await;
    let token = test.token();

    let (_, unknown) = test
        .graphql(&token, "{ shop { nonsense } }", json!({}))
        .await;
    let (_, syntax) = test.graphql(&token, "{ shop { name ", json!({})).await;
    let (_, missing) = test.graphql(&token, CREATE, json!({})).await;
    let (_, leaf) = test
        .graphql(&token, "{ shop { name { x } } }", json!({}))
        .await;

    assert_eq!(
        unknown["errors"][0]["message"],
        "Field 'nonsense' doesn't exist on type 'Shop'"
    );
    assert_eq!(unknown["errors"][0]["extensions"]["code"], "undefinedField");
    assert!(unknown.get("data").is_none());
    assert!(
        syntax["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Unexpected")
    );
    assert_eq!(
        missing["errors"][0]["extensions"]["code"],
        "INVALID_VARIABLE"
    );
    assert_eq!(leaf["errors"][0]["extensions"]["code"], "selectionMismatch");
    for body in [unknown, syntax, missing, leaf] {
        assert!(
            body["extensions"]["cost"]["throttleStatus"]["restoreRate"].is_number(),
            "{body}"
        );
    }
    assert!(test.standin.customers(SHOP).unwrap().is_empty());
}

#[tokio::test]
async fn connections_are_charged_their_page_size_up_front_and_refunded_to_what_came_back() {
    let test = TestStandIn::start().await;
    let token = test.token();
    test.create_customer(&token, json!({ "firstName": "A" }))
        .await;
    test.create_customer(&token, json!({ "firstName": "B" }))
        .await;

    let (_, body) = test
        .graphql(
            &token,
            "{ customers(first: 50) { nodes { id defaultEmailAddress { emailAddress } } } }",
            json!({}),
        )
        .await;

    let cost = &body["extensions"]["cost"];
    assert_eq!(cost["requestedQueryCost"], 2 + 50 * 2);
    assert_eq!(cost["actualQueryCost"], 2 + 2);
    assert_eq!(
        cost["throttleStatus"],
        json!({
            "maximumAvailable": 2000.0,
            "currentlyAvailable": 2000 - 10 - 10 - 4,
            "restoreRate": 100.0,
        })
    );
}

#[tokio::test]
async fn a_query_above_the_single_query_limit_is_refused_before_it_runs() {
    let test = TestStandIn::start().await;
    let token = test.token();

    let (_, body) = test
        .graphql(
            &token,
            "{ customers(first: 250) { nodes { id metafields(first: 10) { nodes { value } } } } }",
            json!({}),
        )
        .await;

    assert_eq!(body["errors"][0]["extensions"]["code"], "MAX_COST_EXCEEDED");
    assert!(
        body["extensions"]["cost"]["requestedQueryCost"]
            .as_u64()
            .unwrap()
            > 1000
    );
}
