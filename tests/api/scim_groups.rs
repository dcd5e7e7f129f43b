//! `/Groups`: Okta Group Push and Entra group operations, with set-based membership.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestTenant, spawn_app};

const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

async fn user(app: &TestApp, tenant: &TestTenant, name: &str) -> String {
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
    });
    let (status, user) = app
        .send_scim(Method::POST, tenant, "/Users", Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    user["id"].as_str().unwrap().to_owned()
}

fn member_ids(group: &Value) -> Vec<String> {
    let mut ids: Vec<String> = group["members"]
        .as_array()
        .map(|members| {
            members
                .iter()
                .map(|m| m["value"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

#[tokio::test]
async fn okta_group_push_creates_renames_and_changes_membership() {
    let app = spawn_app().await;
    let okta = app.tenant("okta-groups").await;
    let alice = user(&app, &okta, "alice@x.test").await;
    let bob = user(&app, &okta, "bob@x.test").await;
    let create = json!({ "schemas": [GROUP_URN], "displayName": "Buyers", "members": [] });

    let (created_status, group) = app
        .send_scim(Method::POST, &okta, "/Groups", Some(create))
        .await;
    let id = group["id"].as_str().unwrap().to_owned();
    let path = format!("/Groups/{id}");
    let rename = json!({ "schemas": [PATCH_URN], "Operations": [
        { "op": "replace", "value": { "id": id, "displayName": "Wholesale buyers" } },
    ]});
    let (rename_status, _) = app
        .send_scim(Method::PATCH, &okta, &path, Some(rename))
        .await;
    let add = json!({ "schemas": [PATCH_URN], "Operations": [
        { "op": "add", "path": "members", "value": [
            { "value": alice, "display": "alice@x.test" },
            { "value": bob, "display": "bob@x.test" },
        ]},
    ]});
    let (add_status, _) = app.send_scim(Method::PATCH, &okta, &path, Some(add)).await;
    let (_, with_both) = app.send_scim(Method::GET, &okta, &path, None).await;
    let remove = json!({ "schemas": [PATCH_URN], "Operations": [
        { "op": "remove", "path": format!("members[value eq \"{alice}\"]") },
    ]});
    let (remove_status, _) = app
        .send_scim(Method::PATCH, &okta, &path, Some(remove))
        .await;
    let (_, with_bob) = app.send_scim(Method::GET, &okta, &path, None).await;
    let (delete_status, _) = app.send_scim(Method::DELETE, &okta, &path, None).await;
    let (gone_status, _) = app.send_scim(Method::GET, &okta, &path, None).await;

    assert_eq!(created_status, StatusCode::CREATED);
    assert_eq!(group["displayName"], "Buyers");
    assert_eq!(rename_status, StatusCode::NO_CONTENT);
    assert_eq!(add_status, StatusCode::NO_CONTENT);
    assert_eq!(with_both["displayName"], "Wholesale buyers");
    let mut both = vec![alice.clone(), bob.clone()];
    both.sort();
    assert_eq!(member_ids(&with_both), both);
    assert_eq!(remove_status, StatusCode::NO_CONTENT);
    assert_eq!(member_ids(&with_bob), vec![bob]);
    assert_eq!(delete_status, StatusCode::NO_CONTENT);
    assert_eq!(gone_status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn entra_group_operations_work_in_both_remove_forms_and_without_member_lists() {
    let app = spawn_app().await;
    let entra = app.tenant("entra-groups").await;
    let carol = user(&app, &entra, "carol@x.test").await;
    let dave = user(&app, &entra, "dave@x.test").await;
    let create = json!({
        "schemas": [
            GROUP_URN,
            "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group",
        ],
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": "Group1DisplayName",
        "meta": { "resourceType": "Group" },
    });
    let (_, group) = app
        .send_scim(Method::POST, &entra, "/Groups", Some(create))
        .await;
    let id = group["id"].as_str().unwrap().to_owned();
    let path = format!("/Groups/{id}");

    let add = json!({ "schemas": [PATCH_URN], "Operations": [
        { "name": "addMember", "op": "Add", "path": "members",
          "value": [{ "$ref": null, "value": carol }, { "$ref": null, "value": dave }] },
    ]});
    let (add_status, _) = app.send_scim(Method::PATCH, &entra, &path, Some(add)).await;
    let legacy_remove = json!({ "schemas": [PATCH_URN], "Operations": [
        { "op": "Remove", "path": "members", "value": [{ "value": carol }] },
    ]});
    let (remove_status, _) = app
        .send_scim(Method::PATCH, &entra, &path, Some(legacy_remove))
        .await;
    let (_, without_members) = app
        .send_scim(
            Method::GET,
            &entra,
            &format!("{path}?excludedAttributes=members"),
            None,
        )
        .await;
    let find =
        "/Groups?excludedAttributes=members&filter=displayName%20eq%20%22Group1DisplayName%22";
    let (_, found) = app.send_scim(Method::GET, &entra, find, None).await;
    let (_, full) = app.send_scim(Method::GET, &entra, &path, None).await;
    let duplicate = json!({ "schemas": [GROUP_URN], "displayName": "group1displayname" });
    let (duplicate_status, conflict) = app
        .send_scim(Method::POST, &entra, "/Groups", Some(duplicate))
        .await;

    assert_eq!(add_status, StatusCode::NO_CONTENT);
    assert_eq!(remove_status, StatusCode::NO_CONTENT);
    assert!(without_members.get("members").is_none());
    assert_eq!(found["totalResults"], 1);
    assert!(found["Resources"][0].get("members").is_none());
    assert_eq!(
        member_ids(&full),
        vec![dave],
        "the legacy remove drops only the listed member"
    );
    assert_eq!(duplicate_status, StatusCode::CONFLICT);
    assert_eq!(conflict["scimType"], "uniqueness");
}

#[tokio::test]
async fn members_must_be_users_of_the_same_shop() {
    let app = spawn_app().await;
    let shop_a = app.tenant("members-a").await;
    let shop_b = app.tenant("members-b").await;
    let foreign = user(&app, &shop_b, "eve@x.test").await;
    let create = json!({
        "schemas": [GROUP_URN],
        "displayName": "Mixed",
        "members": [{ "value": foreign }],
    });

    let (status, body) = app
        .send_scim(Method::POST, &shop_a, "/Groups", Some(create))
        .await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["scimType"], "invalidValue");
    assert!(
        !body["detail"].as_str().unwrap().contains(&foreign),
        "details name no values"
    );
}

#[tokio::test]
async fn a_users_groups_show_on_the_user_and_a_membership_change_renews_its_etag() {
    let app = spawn_app().await;
    let tenant = app.tenant("user-groups").await;
    let erin = user(&app, &tenant, "erin@x.test").await;
    let user_path = format!("/Users/{erin}");
    let (_, before) = app.send_scim(Method::GET, &tenant, &user_path, None).await;
    let create = json!({
        "schemas": [GROUP_URN],
        "displayName": "VIP",
        "members": [{ "value": erin }],
    });

    let (_, group) = app
        .send_scim(Method::POST, &tenant, "/Groups", Some(create))
        .await;
    let group_id = group["id"].as_str().unwrap();
    let stale = app
        .scim(Method::GET, &tenant, &user_path)
        .header("if-none-match", before["meta"]["version"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let (_, only_groups) = app
        .send_scim(
            Method::GET,
            &tenant,
            &format!("{user_path}?attributes=groups"),
            None,
        )
        .await;
    let (_, without_groups) = app
        .send_scim(
            Method::GET,
            &tenant,
            &format!("{user_path}?excludedAttributes=groups"),
            None,
        )
        .await;
    let by_group = format!("/Users?filter=groups.value%20eq%20%22{group_id}%22");
    let (_, found) = app.send_scim(Method::GET, &tenant, &by_group, None).await;

    assert!(before.get("groups").is_none());
    assert_eq!(stale.status(), StatusCode::OK);
    assert_ne!(
        stale.headers()["etag"].to_str().unwrap(),
        before["meta"]["version"].as_str().unwrap()
    );
    assert_eq!(only_groups["groups"][0]["value"], group_id);
    assert_eq!(only_groups["groups"][0]["display"], "VIP");
    assert_eq!(only_groups["groups"][0]["type"], "direct");
    assert!(
        only_groups["groups"][0]["$ref"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/scim/v2/user-groups/Groups/{group_id}"))
    );
    assert!(only_groups.get("userName").is_none());
    assert!(without_groups.get("groups").is_none());
    assert_eq!(without_groups["userName"], "erin@x.test");
    assert_eq!(found["totalResults"], 1);
    assert_eq!(found["Resources"][0]["id"], json!(erin));
}
