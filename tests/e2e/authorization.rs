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
        (
            "GET",
            "/api/v1/me/documents",
            None,
            [401, 200, 200, 200, 200],
        ),
        // Every demo account is approved: there is no registration waiting for a document.
        (
            "POST",
            "/api/v1/me/documents",
            Some(json!({})),
            [401, 409, 409, 409, 409],
        ),
        (
            "GET",
            "/api/v1/admin/registrations/999999/documents",
            None,
            [401, 403, 404, 404, 404],
        ),
        (
            "GET",
            "/api/v1/admin/registrations/999999/documents/1",
            None,
            [401, 403, 404, 404, 404],
        ),
        // The demo resident's registration is years from expiry: renewal is not open yet.
        (
            "POST",
            "/api/v1/me/registration/renew",
            Some(json!({
                "postal_code": "231-0017", "address": "横浜市中区港町1-1",
                "phone": "045-671-2121", "residency": "resident"
            })),
            [401, 409, 403, 403, 403],
        ),
        ("GET", "/api/v1/me/export", None, [401, 200, 200, 200, 200]),
        // A wrong password for the resident; staff accounts are not deleted online.
        (
            "POST",
            "/api/v1/me/delete",
            Some(json!({"password": "not the password"})),
            [401, 403, 403, 403, 403],
        ),
        ("GET", "/api/v1/groups", None, [401, 200, 200, 200, 200]),
        // Groups are registered by residents; staff accounts are for work.
        (
            "POST",
            "/api/v1/groups",
            Some(
                json!({"name": "行列テスト", "name_kana": "ぎょうれつてすと", "activity": "卓球"}),
            ),
            [401, 201, 403, 403, 403],
        ),
        (
            "GET",
            "/api/v1/groups/999999",
            None,
            [401, 404, 404, 404, 404],
        ),
        (
            "POST",
            "/api/v1/groups/999999/members",
            Some(json!({"card_number": "9000000019", "date_of_birth": "1975-06-12"})),
            [401, 404, 404, 404, 404],
        ),
        (
            "DELETE",
            "/api/v1/groups/999999/members/1",
            None,
            [401, 404, 404, 404, 404],
        ),
        (
            "POST",
            "/api/v1/groups/999999/leave",
            Some(json!({})),
            [401, 404, 404, 404, 404],
        ),
        (
            "POST",
            "/api/v1/groups/999999/register",
            Some(json!({})),
            [401, 404, 404, 404, 404],
        ),
        (
            "POST",
            "/api/v1/groups/999999/dissolve",
            Some(json!({})),
            [401, 404, 404, 404, 404],
        ),
        // Payments: my own bookings only (none of these exist), the webhook needs Stripe's
        // signature whoever calls, and counter payments and the reconciliation are staff work.
        (
            "POST",
            "/api/v1/bookings/999999/checkout",
            Some(json!({})),
            [401, 404, 404, 404, 404],
        ),
        (
            "GET",
            "/api/v1/bookings/999999/payments",
            None,
            [401, 404, 404, 404, 404],
        ),
        (
            "POST",
            "/api/v1/payments/stripe/webhook",
            Some(json!({"id": "evt_x", "type": "checkout.session.completed"})),
            [400, 400, 400, 400, 400],
        ),
        (
            "POST",
            "/api/v1/admin/bookings/999999/counter-payment",
            Some(json!({"method": "cash", "amount_yen": 100})),
            [401, 403, 404, 404, 404],
        ),
        (
            "GET",
            "/api/v1/admin/facilities/999999/reconciliation",
            None,
            [401, 403, 404, 404, 404],
        ),
        (
            "GET",
            "/api/v1/admin/facilities/999999/reconciliation?format=csv",
            None,
            [401, 403, 404, 404, 404],
        ),
        (
            "POST",
            "/api/v1/admin/bookings/999999/cancel",
            Some(json!({"reason": "施設点検のため"})),
            [401, 403, 404, 404, 404],
        ),
        (
            "POST",
            "/api/v1/admin/refunds/999999/hand-back",
            Some(json!({})),
            [401, 403, 404, 404, 404],
        ),
        (
            "GET",
            "/bookings/999999/receipt",
            None,
            [401, 404, 404, 404, 404],
        ),
        // Fee reductions are the city's: admins only.
        (
            "POST",
            "/api/v1/admin/groups/999999/fee-reduction",
            Some(json!({"code": null})),
            [401, 403, 403, 403, 404],
        ),
        // The card: the demo resident has a card number; staff accounts have none.
        ("GET", "/api/v1/me/card", None, [401, 200, 403, 403, 403]),
        (
            "GET",
            "/api/v1/me/penalties",
            None,
            [401, 200, 200, 200, 200],
        ),
        // The key set is public.
        (
            "GET",
            "/.well-known/jwks.json",
            None,
            [200, 200, 200, 200, 200],
        ),
        // Check-in: staff only at assigned facilities (no one is assigned to 999999; admins
        // are everywhere, and it does not exist).
        (
            "POST",
            "/api/v1/checkins",
            Some(json!({"facility_id": 999999, "card_number": "9000000068"})),
            [401, 403, 403, 403, 404],
        ),
        (
            "POST",
            "/api/v1/checkins/sync",
            Some(json!({"items": []})),
            [401, 403, 200, 200, 200],
        ),
        (
            "GET",
            "/api/v1/checkins/revocations",
            None,
            [401, 403, 200, 200, 200],
        ),
        // Staff act on cards and penalties; nobody has this card number or booking.
        (
            "POST",
            "/api/v1/admin/cards/9000000993/suspend",
            Some(json!({"reason": "matrix"})),
            [401, 403, 404, 404, 404],
        ),
        (
            "POST",
            "/api/v1/admin/cards/9000000993/revoke",
            Some(json!({"reason": "matrix"})),
            [401, 403, 404, 404, 404],
        ),
        (
            "POST",
            "/api/v1/admin/bookings/999999/penalty/void",
            Some(json!({"reason": "matrix"})),
            [401, 403, 404, 404, 404],
        ),
        // The lottery: residents apply and confirm; only admins create rounds and draw.
        (
            "POST",
            "/api/v1/lottery/rounds/999999/applications",
            Some(json!({"wishes": [1], "purpose": "matrix", "attendees": 1})),
            [401, 404, 403, 403, 403],
        ),
        (
            "POST",
            "/api/v1/lottery/rounds/999999/applications/withdraw",
            Some(json!({})),
            [401, 404, 404, 404, 404],
        ),
        ("GET", "/api/v1/me/lottery", None, [401, 200, 200, 200, 200]),
        (
            "POST",
            "/api/v1/me/lottery/wins/999999/confirm",
            Some(json!({})),
            [401, 404, 404, 404, 404],
        ),
        (
            "POST",
            "/api/v1/admin/lottery/rounds",
            Some(json!({
                "name": "matrix", "month_of_use": "2099-03-01", "room_ids": [],
                "applications_open_at": "2099-01-01T09:00:00+09:00",
                "applications_close_at": "2099-01-11T00:00:00+09:00",
                "draw_at": "2099-01-12T09:00:00+09:00",
                "confirm_by": "2099-01-21T00:00:00+09:00",
                "first_come_opens_at": "2099-02-01T09:00:00+09:00"
            })),
            [401, 403, 403, 403, 400],
        ),
        (
            "POST",
            "/api/v1/admin/lottery/calendar",
            Some(json!({"month_of_use": "2099-03-01"})),
            [401, 403, 403, 403, 200],
        ),
        (
            "POST",
            "/api/v1/admin/lottery/rounds/999999/draw",
            Some(json!({})),
            [401, 403, 403, 403, 404],
        ),
    ];
    let mut wrong = Vec::new();
    for (method, path, body, expected) in &matrix {
        for (column, token) in tokens.iter().enumerate() {
            let url = format!("{}{path}", app.address);
            let mut request = match *method {
                "GET" => app.client.get(&url),
                "DELETE" => app.client.delete(&url),
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
