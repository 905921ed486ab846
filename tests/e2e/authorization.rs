//! Every protected route × every role: who gets in, who is refused, and how.

use serde_json::json;
use yoyaku_tests::spawn_app;

/// Roles in column order: anonymous, then the demo accounts.
const ACCOUNTS: [Option<&str>; 5] = [
    None,
    Some("resident@demo.yoyaku.jp"),
    Some("staff@demo.yoyaku.jp"),
    Some("manager@demo.yoyaku.jp"),
    Some("admin@demo.yoyaku.jp"),
];

#[tokio::test]
async fn each_protected_route_answers_each_role_as_designed() {
    let app = spawn_app().await;
    let mut tokens = Vec::new();
    for account in ACCOUNTS {
        tokens.push(match account {
            Some(email) => Some(
                app.login(email).await["access_token"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            ),
            None => None,
        });
    }
    // (method, path, body, expected status for: anonymous, resident, staff, manager, admin)
    let matrix: Vec<(&str, &str, Option<serde_json::Value>, [u16; 5])> = vec![
        ("GET", "/api/v1/me", None, [401, 200, 200, 200, 200]),
        ("GET", "/api/v1/bookings", None, [401, 200, 200, 200, 200]),
        (
            "GET",
            "/api/v1/bookings/999999",
            None,
            [401, 404, 404, 404, 404],
        ),
        (
            "POST",
            "/api/v1/bookings/999999/cancel",
            Some(json!({})),
            [401, 404, 404, 404, 404],
        ),
        (
            "POST",
            "/api/v1/bookings/quote",
            Some(json!({"room_id": 999999, "slot_ids": [1], "purpose": "x", "attendees": 1})),
            [401, 422, 422, 422, 422],
        ),
        (
            "GET",
            "/api/v1/admin/registrations",
            None,
            [401, 403, 200, 200, 200],
        ),
        (
            "POST",
            "/api/v1/admin/registrations/999999/approve",
            Some(json!({})),
            [401, 403, 404, 404, 404],
        ),
        (
            "POST",
            "/api/v1/admin/registrations/999999/reject",
            Some(json!({"reason": "確認できませんでした"})),
            [401, 403, 404, 404, 404],
        ),
    ];
    let mut wrong = Vec::new();
    for (method, path, body, expected) in &matrix {
        for (column, token) in tokens.iter().enumerate() {
            let url = format!("{}{path}", app.address);
            let mut request = match *method {
                "GET" => app.client.get(&url),
                _ => app.client.post(&url),
            };
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let status = request.send().await.unwrap().status().as_u16();
            if status != expected[column] {
                wrong.push(format!(
                    "{method} {path} as {:?}: {status}, expected {}",
                    ACCOUNTS[column], expected[column]
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
