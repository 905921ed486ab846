-- One booking, as services::bookings::create_booking runs it on PostgreSQL: the statements in
-- the order the service sends them, captured from the server's statement log (log_statement =
-- all) on 2026-11-23. Re-capture when the booking service changes (docs/BENCHMARKS.md says how).
-- Values the service computes in Rust (request hash, price, quote, payment deadline, the stored
-- answer) are constants of the same shape. Run by `yoyaku bench` with
-- `pgbench --protocol prepared`; it fills bench_pgbench_plan and bench_pgbench_seq first.

-- The request: the n-th row of the plan (a resident, a free slot of a whole or plain room, a
-- fresh Idempotency-Key). Outside the transaction; it stands for parsing the request.
WITH next AS (SELECT nextval('bench_pgbench_seq') AS n)
SELECT p.user_id, p.slot_id, p.idem_key, s.room_id, s.starts_at, s.ends_at, s.service_date,
       r.kind AS room_kind,
       date_trunc('month', s.service_date)::date AS month_start,
       (date_trunc('month', s.service_date) + interval '1 month' - interval '1 day')::date AS month_end
FROM next JOIN bench_pgbench_plan p ON p.n = next.n
JOIN slots s ON s.id = p.slot_id JOIN rooms r ON r.id = s.room_id
\gset

BEGIN;
-- The person's row first: limits are counted without a race, a retry with the same key waits.
SELECT "users"."id", "users"."email", "users"."password_hash", "users"."display_name", "users"."name_kana", "users"."role", "users"."residency", "users"."locale", "users"."email_verified_at", "users"."date_of_birth", "users"."postal_code", "users"."address", "users"."phone", "users"."registration_state", "users"."card_number", "users"."registration_valid_until", "users"."review_note", "users"."created_at", "users"."deleted_at" FROM "users" WHERE "users"."id" = :user_id LIMIT 1 FOR UPDATE;
SELECT "idempotency_keys"."user_id", "idempotency_keys"."key", "idempotency_keys"."request_hash", "idempotency_keys"."status_code", "idempotency_keys"."response", "idempotency_keys"."created_at" FROM "idempotency_keys" WHERE "idempotency_keys"."user_id" = :user_id AND "idempotency_keys"."key" = :idem_key LIMIT 1;
INSERT INTO "idempotency_keys" ("user_id", "key", "request_hash", "status_code", "response", "created_at") VALUES (:user_id, :idem_key, 'f818b8095b06de9d149f1d113929c56ded7b271439cd77b469ce40ceb139326f', 0, 'null', now());
SELECT "rooms"."id", "rooms"."facility_id", "rooms"."parent_room_id", "rooms"."code", "rooms"."name", "rooms"."name_kana", "rooms"."name_en", "rooms"."kind", "rooms"."capacity", "rooms"."area_m2", "rooms"."slot_template_id", "rooms"."uses_lottery", "rooms"."requires_group" FROM "rooms" WHERE "rooms"."id" = :room_id LIMIT 1;
SELECT "slots"."id", "slots"."room_id", "slots"."service_date", "slots"."starts_at", "slots"."ends_at", "slots"."band", "slots"."lighting", "slots"."status", "slots"."closure_id" FROM "slots" WHERE "slots"."id" IN (:slot_id);
-- The per-person limits.
SELECT COUNT(*) AS num_items FROM (SELECT "bookings"."id", "bookings"."user_id", "bookings"."room_id", "bookings"."state", "bookings"."residency", "bookings"."purpose_kind", "bookings"."purpose", "bookings"."attendees", "bookings"."room_kind", "bookings"."service_date", "bookings"."starts_at", "bookings"."ends_at", "bookings"."total_yen", "bookings"."quote", "bookings"."pay_by", "bookings"."channel", "bookings"."created_by", "bookings"."created_at", "bookings"."cancelled_at", "bookings"."refund_yen" FROM "bookings" WHERE "bookings"."user_id" = :user_id
  AND "bookings"."id" NOT IN (SELECT "booking_id" FROM "group_bookings")
  AND "bookings"."room_kind" = :room_kind AND ("bookings"."service_date" BETWEEN :month_start AND :month_end) AND "bookings"."state" IN ('awaiting_payment', 'confirmed', 'checked_in')) AS "sub_query";
SELECT COUNT(*) AS num_items FROM (SELECT "bookings"."id", "bookings"."user_id", "bookings"."room_id", "bookings"."state", "bookings"."residency", "bookings"."purpose_kind", "bookings"."purpose", "bookings"."attendees", "bookings"."room_kind", "bookings"."service_date", "bookings"."starts_at", "bookings"."ends_at", "bookings"."total_yen", "bookings"."quote", "bookings"."pay_by", "bookings"."channel", "bookings"."created_by", "bookings"."created_at", "bookings"."cancelled_at", "bookings"."refund_yen" FROM "bookings" WHERE "bookings"."user_id" = :user_id AND "bookings"."state" = 'awaiting_payment') AS "sub_query";
-- The price.
SELECT "room_prices"."id", "room_prices"."room_id", "room_prices"."band", "room_prices"."amount_yen", "room_prices"."effective_from" FROM "room_prices" WHERE "room_prices"."room_id" IN (:room_id) ORDER BY "room_prices"."effective_from" ASC;
SELECT "fee_policies"."id", "fee_policies"."effective_from", "fee_policies"."non_resident_percent", "fee_policies"."weekend_holiday_percent", "fee_policies"."admission_event_percent", "fee_policies"."commercial_percent" FROM "fee_policies" ORDER BY "fee_policies"."effective_from" ASC;
SELECT "public_holidays"."date", "public_holidays"."name", "public_holidays"."name_en" FROM "public_holidays" WHERE "public_holidays"."date" BETWEEN :service_date AND :service_date;
SELECT "equipment"."id", "equipment"."room_id", "equipment"."code", "equipment"."name", "equipment"."name_en", "equipment"."fee_yen", "equipment"."quantity" FROM "equipment" WHERE "equipment"."room_id" = :room_id;
-- The booking, its slot, its claims (the primary key that forbids double booking), its history.
INSERT INTO "bookings" ("user_id", "room_id", "state", "residency", "purpose_kind", "purpose", "attendees", "room_kind", "service_date", "starts_at", "ends_at", "total_yen", "quote", "pay_by", "channel", "created_by", "created_at", "cancelled_at", "refund_yen") VALUES (:user_id, :room_id, 'awaiting_payment', 'resident', 'ordinary', 'ベンチマーク', 1, :room_kind, :service_date, :starts_at, :ends_at, 800, '{"lines": [{"band": "morning", "kind": "room", "base_yen": 800, "day_type": "weekday", "amount_yen": 800, "slot_index": 0, "purpose_percent": 100, "non_resident_percent": 100, "weekend_holiday_percent": 100}], "room_yen": 800, "total_yen": 800, "equipment_yen": 0, "reduction_yen": 0}', now() + interval '1 day', 'online', :user_id, now(), NULL, NULL) RETURNING "id", "user_id", "room_id", "state", "residency", "purpose_kind", "purpose", "attendees", "room_kind", "service_date", "starts_at", "ends_at", "total_yen", "quote", "pay_by", "channel", "created_by", "created_at", "cancelled_at", "refund_yen"
\gset b_
INSERT INTO "booking_slots" ("booking_id", "slot_id") VALUES (:b_id, :slot_id);
SELECT "room_unit_coverage"."room_id", "room_unit_coverage"."unit_id" FROM "room_unit_coverage" WHERE "room_unit_coverage"."room_id" = :room_id;
-- The service sends the units it just read as VALUES rows; pgbench cannot loop, so the same
-- rows come from the same table here.
INSERT INTO "slot_claims" ("unit_id", "starts_at", "booking_id", "slot_id") SELECT "unit_id", :starts_at::timestamptz, :b_id::bigint, :slot_id::bigint FROM "room_unit_coverage" WHERE "room_id" = :room_id;
INSERT INTO "booking_events" ("booking_id", "at", "actor_user_id", "from_state", "to_state", "reason") VALUES (:b_id, now(), :user_id, NULL, 'awaiting_payment', 'booked online');
UPDATE "idempotency_keys" SET "status_code" = 201, "response" = ('{"id": ' || :b_id || ', "quote": {"lines": [{"band": "morning", "kind": "room", "base_yen": 800, "day_type": "weekday", "amount_yen": 800, "slot_index": 0, "purpose_percent": 100, "non_resident_percent": 100, "weekend_holiday_percent": 100}], "room_yen": 800, "total_yen": 800, "equipment_yen": 0, "reduction_yen": 0}, "state": "awaiting_payment", "pay_by": "2026-11-25T00:00:00+09:00", "ends_at": "2026-11-25T12:00:00+09:00", "purpose": "ベンチマーク", "room_id": 385, "group_id": null, "slot_ids": [1516], "attendees": 1, "residency": "resident", "starts_at": "2026-11-25T09:00:00+09:00", "total_yen": 800, "created_at": "2026-11-23T21:01:37.640326+09:00", "refund_yen": null, "cancelled_at": null, "purpose_kind": "ordinary"}')::json WHERE "idempotency_keys"."user_id" = :user_id AND "idempotency_keys"."key" = :idem_key;
COMMIT;
