//! `/Bulk`: several operations in one request, `bulkId` references and `failOnErrors`.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::spawn_app;

const BULK_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

#[tokio::test]
async fn a_bulk_request_creates_a_user_and_a_group_that_refers_to_it_by_bulk_id() {
    let app = spawn_app().await;
    let tenant = app.tenant("bulk-shop").await;
    let request = json!({
        "schemas": [BULK_URN],
        "Operations": [
            { "method": "POST", "path": "/Users", "bulkId": "ada",
              "data": { "schemas": [USER_URN], "userName": "ada@x.test" } },
            { "method": "POST", "path": "/Groups", "bulkId": "team",
              "data": { "schemas": [GROUP_URN], "displayName": "Team",
                        "members": [{ "value": "bulkId:ada" }] } },
            { "method": "PATCH", "path": "/Users/bulkId:ada",
              "data": { "Operations": [{ "op": "replace", "path": "active", "value": false }] } },
        ],
    });

    let response = app
        .scim(Method::POST, &tenant, "/Bulk")
        .json(&request)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    let group_location = body["Operations"][1]["location"]
        .as_str()
        .unwrap()
        .to_owned();
    let group_id = group_location.rsplit('/').next().unwrap();
    let group: Value = app
        .scim(Method::GET, &tenant, &format!("/Groups/{group_id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let user_location = body["Operations"][0]["location"].as_str().unwrap();
    let user_id = user_location.rsplit('/').next().unwrap();

    assert_eq!(status, StatusCode::OK);
    let statuses: Vec<&str> = body["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|op| op["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["201", "201", "200"]);
    assert_eq!(body["Operations"][0]["bulkId"], "ada");
    assert_eq!(group["members"][0]["value"], user_id);
}

#[tokio::test]
async fn fail_on_errors_stops_after_the_given_number_of_failures() {
    let app = spawn_app().await;
    let tenant = app.tenant("bulk-fail").await;
    let user = |name: &str, bulk_id: &str| {
        json!({ "method": "POST", "path": "/Users", "bulkId": bulk_id,
                "data": { "schemas": [USER_URN], "userName": name } })
    };
    let request = json!({
        "schemas": [BULK_URN],
        "failOnErrors": 1,
        "Operations": [user("one@x.test", "a"), user("ONE@x.test", "b"), user("two@x.test", "c")],
    });

    let response = app
        .scim(Method::POST, &tenant, "/Bulk")
        .json(&request)
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    let list: Value = app
        .scim(Method::GET, &tenant, "/Users")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let operations = body["Operations"].as_array().unwrap();
    assert_eq!(operations.len(), 2, "processing stops at the first failure");
    assert_eq!(operations[1]["status"], "409");
    assert_eq!(operations[1]["response"]["scimType"], "uniqueness");
    assert_eq!(list["totalResults"], 1);
}

#[tokio::test]
async fn a_bulk_request_over_the_operation_limit_gets_413() {
    let app = spawn_app().await;
    let tenant = app.tenant("bulk-big").await;
    let operation = json!({ "method": "DELETE", "path": "/Users/x" });
    let request = json!({ "schemas": [BULK_URN], "Operations": vec![operation; 1001] });

    let response = app
        .scim(Method::POST, &tenant, "/Bulk")
        .json(&request)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "413");
}
