//! `/Users`: the request sequences Okta and Entra send, and the protocol features they rely
//! on (filters, paging, attribute selection, entity tags, uniqueness, soft delete, the outbox).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn okta_user(user_name: &str) -> Value {
    json!({
        "schemas": [USER_URN],
        "userName": user_name,
        "name": { "givenName": "Test", "familyName": "User" },
        "emails": [{ "primary": true, "value": user_name, "type": "work" }],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": "1mz050nq",
        "active": true,
    })
}

fn patch(operations: Value) -> Value {
    json!({ "schemas": [PATCH_URN], "Operations": operations })
}

async fn pending_jobs(app: &TestApp, subject_id: &str) -> usize {
    use sea_orm::{ColumnTrait as _, EntityTrait as _, PaginatorTrait as _, QueryFilter as _};
    use shopify_scim::store::entity::sync_job;

    let count = sync_job::Entity::find()
        .filter(sync_job::Column::SubjectId.eq(subject_id))
        .filter(sync_job::Column::Status.eq("pending"))
        .count(app.db.conn())
        .await
        .unwrap();
    usize::try_from(count).unwrap()
}

#[tokio::test]
async fn okta_provisioning_sequence_creates_finds_updates_and_deactivates_a_user() {
    let app = spawn_app().await;
    let okta = app.tenant("okta-shop").await;
    let lookup =
        "/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100";

    let (missing_status, missing) = app.send_scim(Method::GET, &okta, lookup, None).await;
    let created = app
        .scim(Method::POST, &okta, "/Users")
        .json(&okta_user("test.user@okta.local"))
        .send()
        .await
        .unwrap();
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let created_status = created.status();
    let user: Value = created.json().await.unwrap();
    let id = user["id"].as_str().unwrap().to_owned();
    let (duplicate_status, duplicate) = app
        .send_scim(
            Method::POST,
            &okta,
            "/Users",
            Some(okta_user("TEST.USER@okta.local")),
        )
        .await;
    let upper = "/Users?filter=userName%20eq%20%22TEST.USER%40OKTA.LOCAL%22";
    let (_, found) = app.send_scim(Method::GET, &okta, upper, None).await;
    let mut full = user.clone();
    full["name"]["familyName"] = json!("Renamed");
    let (put_status, replaced) = app
        .send_scim(Method::PUT, &okta, &format!("/Users/{id}"), Some(full))
        .await;
    let deactivate = patch(json!([{ "op": "replace", "value": { "active": false } }]));
    let (patch_status, patched) = app
        .send_scim(
            Method::PATCH,
            &okta,
            &format!("/Users/{id}"),
            Some(deactivate),
        )
        .await;
    let (get_status, fetched) = app
        .send_scim(Method::GET, &okta, &format!("/Users/{id}"), None)
        .await;

    assert_eq!(missing_status, StatusCode::OK);
    assert_eq!(missing["totalResults"], 0);
    assert_eq!(missing["Resources"], json!([]));
    assert_eq!(created_status, StatusCode::CREATED);
    assert_eq!(location, user["meta"]["location"].as_str().unwrap());
    assert_eq!(user["userName"], "test.user@okta.local");
    assert_eq!(user["active"], true);
    assert!(
        user.get("password").is_none(),
        "passwords are never returned"
    );
    assert_eq!(user["meta"]["resourceType"], "User");
    assert_eq!(duplicate_status, StatusCode::CONFLICT);
    assert_eq!(duplicate["scimType"], "uniqueness");
    assert_eq!(duplicate["status"], "409");
    assert_eq!(found["totalResults"], 1);
    assert_eq!(found["Resources"][0]["id"], id.as_str());
    assert_eq!(put_status, StatusCode::OK);
    assert_eq!(replaced["name"]["familyName"], "Renamed");
    assert_eq!(patch_status, StatusCode::OK);
    assert_eq!(patched["active"], false);
    assert_eq!(
        get_status,
        StatusCode::OK,
        "deactivated users stay readable"
    );
    assert_eq!(fetched["active"], false);
    assert_eq!(
        pending_jobs(&app, &id).await,
        1,
        "changes collapse into one pending job"
    );
}

#[tokio::test]
async fn entra_requests_without_the_compatibility_flag_are_understood() {
    let app = spawn_app().await;
    let entra = app.tenant("entra-shop").await;
    let probe = "/Users?filter=externalId+eq+%22e5b9c8a0-0b8f-4a5e-9b3c-2f1d3c4b5a69%22";
    let body = json!({
        "schemas": [USER_URN, "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
        "externalId": "jdoe",
        "userName": "jdoe@contoso.com",
        "active": "True",
        "addresses": null,
        "emails": [{ "primary": true, "type": "work", "value": "jdoe@contoso.com" }],
        "meta": { "resourceType": "User" },
        "name": { "formatted": "Jane Doe", "familyName": "Doe", "givenName": "Jane" },
        "roles": [],
        ENTERPRISE_URN: { "department": "Sales", "manager": "mgr-1" },
    });

    let (probe_status, probe_body) = app.send_scim(Method::GET, &entra, probe, None).await;
    let (created_status, user) = app
        .send_scim(Method::POST, &entra, "/Users", Some(body))
        .await;
    let id = user["id"].as_str().unwrap().to_owned();
    let update = patch(json!([
        { "op": "Replace", "path": "emails[type eq \"work\"].value", "value": "jane@contoso.com" },
        { "op": "Replace", "path": "name.familyName", "value": "Smith" },
    ]));
    let (update_status, _) = app
        .send_scim(Method::PATCH, &entra, &format!("/Users/{id}"), Some(update))
        .await;
    let disable = patch(json!([{ "op": "Replace", "path": "active", "value": "False" }]));
    let (disable_status, _) = app
        .send_scim(
            Method::PATCH,
            &entra,
            &format!("/Users/{id}"),
            Some(disable),
        )
        .await;
    let by_email =
        "/Users?filter=emails%5Btype%20eq%20%22work%22%5D.value%20eq%20%22jane%40contoso.com%22";
    let (_, matched) = app.send_scim(Method::GET, &entra, by_email, None).await;
    let (delete_status, _) = app
        .send_scim(Method::DELETE, &entra, &format!("/Users/{id}"), None)
        .await;
    let (gone_status, gone) = app
        .send_scim(Method::GET, &entra, &format!("/Users/{id}"), None)
        .await;

    assert_eq!(probe_status, StatusCode::OK);
    assert_eq!(probe_body["totalResults"], 0);
    assert_eq!(created_status, StatusCode::CREATED);
    assert_eq!(user["active"], true);
    assert_eq!(user[ENTERPRISE_URN]["manager"], json!({ "value": "mgr-1" }));
    assert_eq!(update_status, StatusCode::OK);
    assert_eq!(disable_status, StatusCode::OK);
    assert_eq!(matched["totalResults"], 1);
    let found = &matched["Resources"][0];
    assert_eq!(found["active"], false);
    assert_eq!(found["name"]["familyName"], "Smith");
    assert_eq!(found["emails"][0]["value"], "jane@contoso.com");
    assert_eq!(delete_status, StatusCode::NO_CONTENT);
    assert_eq!(gone_status, StatusCode::NOT_FOUND);
    assert_eq!(gone["status"], "404");
    assert_eq!(pending_jobs(&app, &id).await, 1);
}

#[tokio::test]
async fn entra_requests_with_the_compatibility_flag_are_understood() {
    let app = spawn_app().await;
    let entra = app.tenant("entra-flag").await;
    let (_, user) = app
        .send_scim(
            Method::POST,
            &entra,
            "/Users?aadOptscim062020",
            Some(okta_user("a@b.test")),
        )
        .await;
    let id = user["id"].as_str().unwrap().to_owned();
    let update = patch(json!([
        {
            "op": "replace",
            "value": {
                "displayName": "Alex B",
                "name.givenName": "Alex",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "42",
            }
        },
        { "op": "replace", "path": "active", "value": false },
    ]));

    let (status, patched) = app
        .send_scim(
            Method::PATCH,
            &entra,
            &format!("/Users/{id}?aadOptscim062020"),
            Some(update),
        )
        .await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(patched["displayName"], "Alex B");
    assert_eq!(patched["name"]["givenName"], "Alex");
    assert_eq!(patched[ENTERPRISE_URN]["employeeNumber"], "42");
    assert_eq!(patched["active"], false);
}

#[tokio::test]
async fn etags_guard_updates_and_allow_conditional_reads() {
    let app = spawn_app().await;
    let tenant = app.tenant("etag-shop").await;
    let (_, user) = app
        .send_scim(Method::POST, &tenant, "/Users", Some(okta_user("e@x.test")))
        .await;
    let id = user["id"].as_str().unwrap().to_owned();
    let path = format!("/Users/{id}");

    let fetched = app.scim(Method::GET, &tenant, &path).send().await.unwrap();
    let etag = fetched.headers()["etag"].to_str().unwrap().to_owned();
    let not_modified = app
        .scim(Method::GET, &tenant, &path)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    let deactivate = patch(json!([{ "op": "replace", "path": "active", "value": false }]));
    let updated = app
        .scim(Method::PATCH, &tenant, &path)
        .header("if-match", &etag)
        .json(&deactivate)
        .send()
        .await
        .unwrap();
    let new_etag = updated.headers()["etag"].to_str().unwrap().to_owned();
    let stale = app
        .scim(Method::PUT, &tenant, &path)
        .header("if-match", &etag)
        .json(&okta_user("e@x.test"))
        .send()
        .await
        .unwrap();

    assert_eq!(etag, user["meta"]["version"].as_str().unwrap());
    assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(updated.status(), StatusCode::OK);
    assert_ne!(new_etag, etag);
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
}

#[tokio::test]
async fn lists_filter_sort_page_and_select_attributes() {
    let app = spawn_app().await;
    let tenant = app.tenant("list-shop").await;
    for name in ["carol", "alice", "erin", "bob", "dave"] {
        let mut body = okta_user(&format!("{name}@example.test"));
        body["name"]["familyName"] = json!(name.to_uppercase());
        app.send_scim(Method::POST, &tenant, "/Users", Some(body))
            .await;
    }

    let (_, page) = app
        .send_scim(Method::GET, &tenant, "/Users?startIndex=2&count=2", None)
        .await;
    let (_, sorted) = app
        .send_scim(
            Method::GET,
            &tenant,
            "/Users?sortBy=userName&sortOrder=descending",
            None,
        )
        .await;
    let (_, counted) = app
        .send_scim(Method::GET, &tenant, "/Users?count=0", None)
        .await;
    let (_, starts) = app
        .send_scim(
            Method::GET,
            &tenant,
            "/Users?filter=userName%20sw%20%22b%22",
            None,
        )
        .await;
    let (_, by_family) = app
        .send_scim(
            Method::GET,
            &tenant,
            "/Users?filter=name.familyName%20eq%20%22DAVE%22&attributes=userName",
            None,
        )
        .await;
    let (_, excluded) = app
        .send_scim(
            Method::GET,
            &tenant,
            "/Users?excludedAttributes=emails,name",
            None,
        )
        .await;
    let (bad_status, bad) = app
        .send_scim(Method::GET, &tenant, "/Users?filter=userName%20eq", None)
        .await;

    let names = |list: &Value| -> Vec<String> {
        list["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|user| {
                user["userName"]
                    .as_str()
                    .unwrap()
                    .split('@')
                    .next()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    assert_eq!(page["totalResults"], 5);
    assert_eq!(page["startIndex"], 2);
    assert_eq!(page["itemsPerPage"], 2);
    assert_eq!(
        names(&page),
        ["alice", "erin"],
        "default order is creation order"
    );
    assert_eq!(names(&sorted), ["erin", "dave", "carol", "bob", "alice"]);
    assert_eq!(counted["totalResults"], 5);
    assert_eq!(counted["Resources"], json!([]));
    assert_eq!(names(&starts), ["bob"]);
    let only = &by_family["Resources"][0];
    assert_eq!(by_family["totalResults"], 1);
    assert!(only.get("id").is_some() && only.get("userName").is_some());
    assert!(only.get("name").is_none() && only.get("emails").is_none());
    assert!(excluded["Resources"][0].get("emails").is_none());
    assert!(excluded["Resources"][0].get("userName").is_some());
    assert_eq!(bad_status, StatusCode::BAD_REQUEST);
    assert_eq!(bad["scimType"], "invalidFilter");
}

#[tokio::test]
async fn a_shop_never_sees_another_shops_users() {
    let app = spawn_app().await;
    let shop_a = app.tenant("shop-a").await;
    let shop_b = app.tenant("shop-b").await;
    let (_, user) = app
        .send_scim(Method::POST, &shop_a, "/Users", Some(okta_user("a@x.test")))
        .await;
    let id = user["id"].as_str().unwrap().to_owned();

    let (get_status, _) = app
        .send_scim(Method::GET, &shop_b, &format!("/Users/{id}"), None)
        .await;
    let (list_status, list) = app.send_scim(Method::GET, &shop_b, "/Users", None).await;
    let (delete_status, _) = app
        .send_scim(Method::DELETE, &shop_b, &format!("/Users/{id}"), None)
        .await;
    let (same_name_status, _) = app
        .send_scim(Method::POST, &shop_b, "/Users", Some(okta_user("a@x.test")))
        .await;

    assert_eq!(get_status, StatusCode::NOT_FOUND);
    assert_eq!(list_status, StatusCode::OK);
    assert_eq!(list["totalResults"], 0);
    assert_eq!(delete_status, StatusCode::NOT_FOUND);
    assert_eq!(
        same_name_status,
        StatusCode::CREATED,
        "userName is unique per shop only"
    );
}

#[tokio::test]
async fn malformed_bodies_and_missing_user_names_get_scim_400s() {
    let app = spawn_app().await;
    let tenant = app.tenant("bad-input").await;

    let not_json = app
        .scim(Method::POST, &tenant, "/Users")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let (missing_status, missing) = app
        .send_scim(
            Method::POST,
            &tenant,
            "/Users",
            Some(json!({ "schemas": [USER_URN], "name": { "givenName": "x" } })),
        )
        .await;

    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);
    let body: Value = not_json.json().await.unwrap();
    assert_eq!(body["scimType"], "invalidSyntax");
    assert_eq!(missing_status, StatusCode::BAD_REQUEST);
    assert_eq!(missing["scimType"], "invalidValue");
}

#[tokio::test]
async fn a_user_is_found_by_a_secondary_email_address() {
    let app = spawn_app().await;
    let tenant = app.tenant("secondary-email").await;
    let body = json!({
        "schemas": [USER_URN],
        "userName": "frank",
        "emails": [
            { "value": "frank@work.test", "type": "work", "primary": true },
            { "value": "Frank@Home.test", "type": "home" },
        ],
    });
    let (status, created) = app
        .send_scim(Method::POST, &tenant, "/Users", Some(body))
        .await;

    let search = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": "emails.value eq \"frank@home.TEST\"",
        "attributes": ["userName"],
    });
    let (search_status, found) = app
        .send_scim(Method::POST, &tenant, "/Users/.search", Some(search))
        .await;

    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(search_status, StatusCode::OK);
    assert_eq!(found["totalResults"], 1);
    assert_eq!(found["Resources"][0]["id"], created["id"]);
    assert_eq!(found["Resources"][0]["userName"], "frank");
}
