//! Mail: written to the outbox inside the transaction that causes it, never sent from inside a
//! transaction. A job (`jobs::mail_delivery`) sends it when SMTP is configured; without SMTP it
//! stays readable (`yoyaku outbox`, and `GET /api/v1/dev/outbox` in demo mode).
//!
//! Sending is at-most-once per attempt across instances: a sender first *claims* a due mail with
//! a conditional UPDATE that sets a lease (`claimed_until`) and its own `claim_token`. Only one
//! UPDATE can match while the lease runs, on SQLite (one writer at a time) and PostgreSQL (the
//! second UPDATE waits for the row lock, then re-checks the condition and matches nothing). The
//! outcome is written only by the token's holder.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::Expr,
};

use crate::entities::mail_outbox;

/// A mail, rendered in the person's language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub template: &'static str,
    pub subject: String,
    pub body: String,
}

/// The verification mail for a new registration.
pub fn verify_email(locale: &str, name: &str, link: &str) -> Mail {
    let (subject, body) = if locale == "en" {
        (
            "Yoyaku: confirm your email address".to_owned(),
            format!(
                "Dear {name},\n\nThank you for registering. Open this link within 24 hours to confirm \
                 your email address:\n\n{link}\n\nThen the city checks your identity and residency; \
                 you can book once it has approved your registration.\n\nIf you did not register, \
                 ignore this mail.\n"
            ),
        )
    } else {
        (
            "【Yoyaku】メールアドレスの確認".to_owned(),
            format!(
                "{name} 様\n\n利用者登録のお申し込みありがとうございます。24時間以内に次のリンクを開いて、\
                 メールアドレスを確認してください。\n\n{link}\n\nその後、本人確認と住所の確認が済み、\
                 登録が承認されると予約できるようになります。\n\nお心当たりのない場合は、このメールを破棄してください。\n"
            ),
        )
    };
    Mail {
        template: "verify_email",
        subject,
        body,
    }
}

/// The mail sent when someone registers an address that already has an account: the person
/// learns it, the registration form does not reveal it.
pub fn already_registered(locale: &str, sign_in_link: &str) -> Mail {
    let (subject, body) = if locale == "en" {
        (
            "Yoyaku: you already have an account".to_owned(),
            format!(
                "Someone (perhaps you) tried to register this address, which already has an account.\n\
                 Sign in here: {sign_in_link}\n\nIf it was not you, you can ignore this mail.\n"
            ),
        )
    } else {
        (
            "【Yoyaku】このメールアドレスは登録済みです".to_owned(),
            format!(
                "このメールアドレスで利用者登録のお申し込みがありましたが、すでに登録済みです。\n\
                 ログインはこちら: {sign_in_link}\n\nお心当たりのない場合は、このメールを破棄してください。\n"
            ),
        )
    };
    Mail {
        template: "already_registered",
        subject,
        body,
    }
}

/// The mail with a password reset link. It names how long the link works and says that
/// ignoring it changes nothing, since anyone can ask for it with the person's address.
pub fn password_reset(locale: &str, link: &str, valid_minutes: i64) -> Mail {
    let (subject, body) = if locale == "en" {
        (
            "Yoyaku: reset your password".to_owned(),
            format!(
                "Someone (perhaps you) asked to reset the password of this account. Open this \
                 link within {valid_minutes} minutes to choose a new password; it works once:\n\n\
                 {link}\n\nIf you did not ask, ignore this mail: your password stays as it is.\n"
            ),
        )
    } else {
        (
            "【Yoyaku】パスワードの再設定".to_owned(),
            format!(
                "このアカウントのパスワード再設定のお申し込みがありました。{valid_minutes}分以内に\
                 次のリンクを開いて、新しいパスワードを設定してください（リンクは1回だけ使えます）。\n\n\
                 {link}\n\nお心当たりのない場合は、このメールを破棄してください。パスワードは変わりません。\n"
            ),
        )
    };
    Mail {
        template: "password_reset",
        subject,
        body,
    }
}

/// The mail telling a person their password was changed through a reset link, so that a
/// change they did not make does not go unnoticed.
pub fn password_changed(locale: &str) -> Mail {
    let (subject, body) = if locale == "en" {
        (
            "Yoyaku: your password was changed".to_owned(),
            "The password of your account was changed and you were signed out everywhere. If \
             it was not you, reset your password again at once and contact a facility counter.\n"
                .to_owned(),
        )
    } else {
        (
            "【Yoyaku】パスワードが変更されました".to_owned(),
            "アカウントのパスワードが変更され、すべての端末でログアウトしました。お心当たりのない\
             場合は、ただちにパスワードを再設定し、窓口にご連絡ください。\n"
                .to_owned(),
        )
    };
    Mail {
        template: "password_changed",
        subject,
        body,
    }
}

/// The mail telling a person their registration was approved.
pub fn registration_approved(
    locale: &str,
    card_number: &str,
    valid_until: chrono::NaiveDate,
) -> Mail {
    let (subject, body) = if locale == "en" {
        (
            "Yoyaku: your registration is approved".to_owned(),
            format!(
                "Your registration is approved. Your card number is {card_number}, valid until \
                 {valid_until}. You can now book; show your card (on your phone or printed) at the venue.\n"
            ),
        )
    } else {
        (
            "【Yoyaku】利用者登録が承認されました".to_owned(),
            format!(
                "利用者登録が承認されました。利用者番号は {card_number}、有効期限は {valid_until} です。\
                 予約ができるようになりました。施設では利用者証（スマートフォンまたは印刷）をご提示ください。\n"
            ),
        )
    };
    Mail {
        template: "registration_approved",
        subject,
        body,
    }
}

/// The mail telling a person their registration was not approved, and why.
pub fn registration_rejected(locale: &str, reason: &str) -> Mail {
    let (subject, body) = if locale == "en" {
        (
            "Yoyaku: your registration could not be approved".to_owned(),
            format!(
                "Your registration could not be approved: {reason}\nPlease contact a facility counter or register again.\n"
            ),
        )
    } else {
        (
            "【Yoyaku】利用者登録を承認できませんでした".to_owned(),
            format!(
                "利用者登録を承認できませんでした。理由: {reason}\n窓口にお問い合わせいただくか、再度お申し込みください。\n"
            ),
        )
    };
    Mail {
        template: "registration_rejected",
        subject,
        body,
    }
}

/// The mail telling a person a group's representative added them as a member.
pub fn added_to_group(locale: &str, group: &str, representative: &str) -> Mail {
    let (subject, body) = if locale == "en" {
        (
            format!("Yoyaku: you were added to the group {group}"),
            format!(
                "{representative}, the representative of the group {group}, added you as a member.\n\
                 If you did not agree to this, sign in and leave the group under My groups.\n"
            ),
        )
    } else {
        (
            format!("【Yoyaku】団体「{group}」の構成員に登録されました"),
            format!(
                "団体「{group}」の代表者 {representative} 様が、あなたを構成員として登録しました。\n\
                 お心当たりのない場合は、ログインして「所属団体」から脱退してください。\n"
            ),
        )
    };
    Mail {
        template: "added_to_group",
        subject,
        body,
    }
}

/// The mail telling a representative their group no longer meets the rules after a member left.
pub fn group_needs_members(locale: &str, group: &str, reason: &str) -> Mail {
    let (subject, body) = if locale == "en" {
        (
            format!("Yoyaku: the group {group} must register again"),
            format!(
                "A member left the group {group}, and it no longer meets the rules: {reason}\n\
                 It cannot book until you add members and register it again.\n"
            ),
        )
    } else {
        (
            format!("【Yoyaku】団体「{group}」の再登録が必要です"),
            format!(
                "構成員の脱退により、団体「{group}」は登録要件を満たさなくなりました（{reason}）。\n\
                 構成員を追加して再登録するまで、この団体での予約はできません。\n"
            ),
        )
    };
    Mail {
        template: "group_needs_members",
        subject,
        body,
    }
}

/// The reminder that a registration expires soon, with the way to renew it online.
pub fn registration_reminder(
    locale: &str,
    name: &str,
    valid_until: chrono::NaiveDate,
    days_left: i64,
    sign_in_link: &str,
) -> Mail {
    let (subject, body) = if locale == "en" {
        (
            "Yoyaku: your registration expires soon".to_owned(),
            format!(
                "Dear {name},\n\nYour registration is valid until {valid_until} ({days_left} days from \
                 today). Renew it online before then and it runs three more years from that date; \
                 you will be asked to confirm your address, phone number and residency.\n\n\
                 Sign in here and renew from your account: {sign_in_link}\n\nAfter it expires you \
                 cannot book until it is renewed.\n"
            ),
        )
    } else {
        (
            "【Yoyaku】利用者登録の有効期限が近づいています".to_owned(),
            format!(
                "{name} 様\n\n利用者登録の有効期限は {valid_until} です（あと{days_left}日）。\
                 期限までにオンラインで更新すると、その日から3年間延長されます。\
                 更新の際は、住所・電話番号・在住／在勤／在学の区分をご確認いただきます。\n\n\
                 ログインして更新してください: {sign_in_link}\n\n期限を過ぎると、更新するまで予約できません。\n"
            ),
        )
    };
    Mail {
        template: "registration_reminder",
        subject,
        body,
    }
}

/// The mail confirming an online renewal.
pub fn registration_renewed(locale: &str, valid_until: chrono::NaiveDate) -> Mail {
    let (subject, body) = if locale == "en" {
        (
            "Yoyaku: your registration is renewed".to_owned(),
            format!(
                "Your registration is renewed and valid until {valid_until}. Your card number \
                 stays the same.\n"
            ),
        )
    } else {
        (
            "【Yoyaku】利用者登録を更新しました".to_owned(),
            format!(
                "利用者登録を更新しました。新しい有効期限は {valid_until} です。利用者番号は変わりません。\n"
            ),
        )
    };
    Mail {
        template: "registration_renewed",
        subject,
        body,
    }
}

/// The mail saying a renewal waits for staff (a new residency category, or a registration
/// expired too long ago to renew online).
pub fn renewal_under_review(locale: &str) -> Mail {
    let (subject, body) = if locale == "en" {
        (
            "Yoyaku: your renewal is being reviewed".to_owned(),
            "We received your renewal. The city checks your residency before it takes effect; \
             until then you cannot make new bookings. You will get a mail when it is decided. \
             You may be asked to show a document at a facility counter.\n"
                .to_owned(),
        )
    } else {
        (
            "【Yoyaku】登録更新の確認を行っています".to_owned(),
            "登録更新のお申し込みを受け付けました。区分の確認が済むまで、新しい予約はできません。\
             結果はメールでお知らせします。窓口で書類の提示をお願いする場合があります。\n"
                .to_owned(),
        )
    };
    Mail {
        template: "renewal_under_review",
        subject,
        body,
    }
}

/// The confirmation that an account was deleted at its owner's request. Sent to the address
/// the account had; the account no longer holds it.
pub fn account_deleted(locale: &str, cancelled_bookings: usize) -> Mail {
    let (subject, body) = if locale == "en" {
        (
            "Yoyaku: your account has been deleted".to_owned(),
            format!(
                "As you asked, your Yoyaku account has been deleted: your name, address, phone \
                 number, date of birth and this email address were removed, and you were signed \
                 out everywhere. Unpaid bookings cancelled: {cancelled_bookings}.\n\nRecords of \
                 paid bookings are kept for the city's accounts, without your personal data.\n\n\
                 If you did not ask for this, contact a facility counter.\n"
            ),
        )
    } else {
        (
            "【Yoyaku】アカウントを削除しました".to_owned(),
            format!(
                "ご依頼により、Yoyaku のアカウントを削除しました。氏名・住所・電話番号・生年月日・\
                 このメールアドレスを消去し、すべての端末でログアウトしました。\
                 取り消した未払いの予約: {cancelled_bookings}件。\n\n\
                 支払済みの予約の記録は、市の会計のため個人情報を除いて保存します。\n\n\
                 お心当たりのない場合は、施設の窓口にお問い合わせください。\n"
            ),
        )
    };
    Mail {
        template: "account_deleted",
        subject,
        body,
    }
}

/// The mail confirming that a booking is paid, with the link to its printable receipt.
pub fn payment_confirmed(
    locale: &str,
    booking_id: i64,
    place: &str,
    when: &str,
    amount_yen: i64,
    receipt_link: &str,
) -> Mail {
    let (subject, body) = if locale == "en" {
        (
            format!("Yoyaku: payment received for booking {booking_id}"),
            format!(
                "We received your payment of {amount_yen} yen. Booking {booking_id} is confirmed.\n\n\
                 {place}\n{when}\n\nYour receipt, to print: {receipt_link}\n"
            ),
        )
    } else {
        (
            format!("【Yoyaku】お支払いを受け付けました（予約番号 {booking_id}）"),
            format!(
                "{amount_yen}円のお支払いを受け付けました。予約番号 {booking_id} の予約が確定しました。\n\n\
                 {place}\n{when}\n\n領収書（印刷できます）: {receipt_link}\n"
            ),
        )
    };
    Mail {
        template: "payment_confirmed",
        subject,
        body,
    }
}

/// The mail saying money was given back: through the card company (online payments), or
/// handed back at the facility's counter.
pub fn refund_made(locale: &str, booking_id: i64, amount_yen: i64, at_counter: bool) -> Mail {
    let (subject, body) = if locale == "en" {
        let how = if at_counter {
            "It was handed back at the facility's counter."
        } else {
            "It goes back to the card or account you paid with; your card company may take a few \
             days to show it."
        };
        (
            format!("Yoyaku: refund for booking {booking_id}"),
            format!("A refund of {amount_yen} yen for booking {booking_id} has been made. {how}\n"),
        )
    } else {
        let how = if at_counter {
            "施設の窓口でお返ししました。"
        } else {
            "お支払いに使われたカード等に返金されます。カード会社の明細への反映には数日かかることがあります。"
        };
        (
            format!("【Yoyaku】返金しました（予約番号 {booking_id}）"),
            format!("予約番号 {booking_id} について {amount_yen}円を返金しました。{how}\n"),
        )
    };
    Mail {
        template: "refund_made",
        subject,
        body,
    }
}

/// The mail telling the holder that the facility cancelled their booking (a staff decision, or
/// a closure such as weather or maintenance), with the reason and the full refund, if paid.
pub fn booking_cancelled_by_facility(
    locale: &str,
    booking_id: i64,
    place: &str,
    when: &str,
    reason: &str,
    refund_yen: i64,
) -> Mail {
    let (subject, body) = if locale == "en" {
        let refund = if refund_yen > 0 {
            format!("What you paid, {refund_yen} yen, is refunded in full.")
        } else {
            "Nothing had been paid, so there is nothing to refund.".to_owned()
        };
        (
            format!("Yoyaku: booking {booking_id} was cancelled by the facility"),
            format!(
                "We are sorry: the facility had to cancel booking {booking_id}.\n\n{place}\n{when}\n\n\
                 Reason: {reason}\n\n{refund}\n"
            ),
        )
    } else {
        let refund = if refund_yen > 0 {
            format!("お支払いいただいた {refund_yen}円は全額返金します。")
        } else {
            "お支払い前のため、返金はありません。".to_owned()
        };
        (
            format!("【Yoyaku】施設の都合により予約を取り消しました（予約番号 {booking_id}）"),
            format!(
                "申し訳ありません。施設の都合により、予約番号 {booking_id} の予約を取り消しました。\n\n\
                 {place}\n{when}\n\n理由: {reason}\n\n{refund}\n"
            ),
        )
    };
    Mail {
        template: "booking_cancelled_by_facility",
        subject,
        body,
    }
}

/// Put a mail in the outbox (inside the caller's transaction).
pub async fn enqueue(
    db: &impl ConnectionTrait,
    to: &str,
    locale: &str,
    mail: Mail,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    mail_outbox::Entity::insert(mail_outbox::ActiveModel {
        id: NotSet,
        to_address: Set(to.to_owned()),
        locale: Set(locale.to_owned()),
        template: Set(mail.template.to_owned()),
        subject: Set(mail.subject),
        body: Set(mail.body),
        created_at: Set(now),
        sent_at: Set(None),
        attempts: Set(0),
        last_error: Set(None),
        next_attempt_at: Set(None),
        claimed_until: Set(None),
        claim_token: Set(None),
        failed_at: Set(None),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// The newest mails, for reading the outbox in demo mode and from the command line.
pub async fn recent(
    db: &impl ConnectionTrait,
    limit: u64,
) -> Result<Vec<mail_outbox::Model>, DbErr> {
    mail_outbox::Entity::find()
        .order_by_desc(mail_outbox::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// Where a mail stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Not sent yet: waiting for SMTP, for its next attempt, or unsent because SMTP is not set.
    Pending,
    Sent,
    /// Given up after the configured number of attempts; `last_error` says why.
    Failed,
}

impl DeliveryStatus {
    /// The status of an outbox row.
    pub fn of(mail: &mail_outbox::Model) -> DeliveryStatus {
        if mail.sent_at.is_some() {
            DeliveryStatus::Sent
        } else if mail.failed_at.is_some() {
            DeliveryStatus::Failed
        } else {
            DeliveryStatus::Pending
        }
    }

    /// `pending`, `sent` or `failed`.
    pub fn code(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Failed => "failed",
        }
    }
}

/// One line of `yoyaku outbox list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxSummary {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub to: String,
    pub template: String,
    pub subject: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
}

/// The newest `limit` mails, newest first, for `yoyaku outbox list`.
pub async fn list(db: &impl ConnectionTrait, limit: u64) -> Result<Vec<OutboxSummary>, DbErr> {
    Ok(recent(db, limit)
        .await?
        .into_iter()
        .map(|m| OutboxSummary {
            status: DeliveryStatus::of(&m),
            id: m.id,
            created_at: m.created_at,
            to: m.to_address,
            template: m.template,
            subject: m.subject,
            attempts: m.attempts,
        })
        .collect())
}

/// One whole mail, for `yoyaku outbox show`: without SMTP, this is how a person running the demo
/// reads their verification link.
pub async fn find(db: &impl ConnectionTrait, id: i64) -> Result<Option<mail_outbox::Model>, DbErr> {
    mail_outbox::Entity::find_by_id(id).one(db).await
}

/// How long a claim keeps other senders away. Far longer than one SMTP exchange (the transport
/// times out well before), so a lease only runs out when its sender has died.
pub const CLAIM_LEASE: chrono::Duration = chrono::Duration::minutes(10);

/// The wait before the next attempt after `attempts` failed ones: one minute, doubling, at most
/// two hours (1, 2, 4, … 64, 120, 120 minutes).
pub fn retry_delay(attempts: i32) -> chrono::Duration {
    let doublings = attempts.clamp(1, 8) - 1;
    chrono::Duration::minutes((1i64 << doublings).min(120))
}

/// Mails a sender may take at `now`: not sent, not given up, their backoff over, and not leased
/// to another sender (or that lease ran out).
fn is_due(now: DateTime<Utc>) -> Condition {
    use mail_outbox::Column;
    Condition::all()
        .add(Column::SentAt.is_null())
        .add(Column::FailedAt.is_null())
        .add(
            Condition::any()
                .add(Column::NextAttemptAt.is_null())
                .add(Column::NextAttemptAt.lte(now)),
        )
        .add(
            Condition::any()
                .add(Column::ClaimedUntil.is_null())
                .add(Column::ClaimedUntil.lte(now)),
        )
}

/// The ids of up to `limit` mails due at `now`, oldest first. Another sender may take any of
/// them before [`claim`]; that is expected.
pub async fn due(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<i64>, DbErr> {
    mail_outbox::Entity::find()
        .select_only()
        .column(mail_outbox::Column::Id)
        .filter(is_due(now))
        .order_by_asc(mail_outbox::Column::Id)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await
}

/// Take mail `id` for sending under `token` until `now + CLAIM_LEASE`. Returns the mail if this
/// caller won it, `None` if it is no longer due (sent, given up, backing off, or claimed by
/// another sender).
pub async fn claim(
    db: &impl ConnectionTrait,
    id: i64,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<mail_outbox::Model>, DbErr> {
    use mail_outbox::Column;
    let taken = mail_outbox::Entity::update_many()
        .col_expr(Column::ClaimedUntil, Expr::value(now + CLAIM_LEASE))
        .col_expr(Column::ClaimToken, Expr::value(token))
        .filter(Column::Id.eq(id))
        .filter(is_due(now))
        .exec(db)
        .await?
        .rows_affected;
    if taken == 0 {
        return Ok(None);
    }
    mail_outbox::Entity::find_by_id(id)
        .filter(Column::ClaimToken.eq(token))
        .one(db)
        .await
}

/// Record that the holder of `token` sent `mail`. Returns false if the claim had been lost (its
/// lease ran out and another sender took the mail), which the lease length makes unlikely.
pub async fn mark_sent(
    db: &impl ConnectionTrait,
    mail: &mail_outbox::Model,
    token: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    use mail_outbox::Column;
    let none: Option<DateTime<Utc>> = None;
    let updated = mail_outbox::Entity::update_many()
        .col_expr(Column::SentAt, Expr::value(now))
        .col_expr(
            Column::Attempts,
            Expr::value(mail.attempts.saturating_add(1)),
        )
        .col_expr(Column::LastError, Expr::value(Option::<String>::None))
        .col_expr(Column::NextAttemptAt, Expr::value(none))
        .col_expr(Column::ClaimedUntil, Expr::value(none))
        .col_expr(Column::ClaimToken, Expr::value(Option::<String>::None))
        .filter(Column::Id.eq(mail.id))
        .filter(Column::ClaimToken.eq(token))
        .exec(db)
        .await?
        .rows_affected;
    Ok(updated == 1)
}

/// What became of a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Tried again at this instant.
    RetryAt(DateTime<Utc>),
    /// That was the last attempt; the mail is kept as failed.
    GivenUp,
    /// The claim had been lost meanwhile; nothing was written.
    ClaimLost,
}

/// Record a failed attempt on a mail claimed with `token`: one more attempt, the error, and
/// either the next attempt's time or, after `max_attempts` (or when `permanent`, for mail that
/// no retry can send), giving up. The error is stored, never logged: it can quote the address.
pub async fn mark_failed(
    db: &impl ConnectionTrait,
    mail: &mail_outbox::Model,
    token: &str,
    error: &str,
    max_attempts: u32,
    permanent: bool,
    now: DateTime<Utc>,
) -> Result<AfterFailure, DbErr> {
    use mail_outbox::Column;
    let attempts = mail.attempts.saturating_add(1);
    let outcome = if permanent || i64::from(attempts) >= i64::from(max_attempts) {
        AfterFailure::GivenUp
    } else {
        AfterFailure::RetryAt(now + retry_delay(attempts))
    };
    let (next_attempt_at, failed_at) = match outcome {
        AfterFailure::RetryAt(at) => (Some(at), None),
        _ => (None, Some(now)),
    };
    let none: Option<DateTime<Utc>> = None;
    let updated = mail_outbox::Entity::update_many()
        .col_expr(Column::Attempts, Expr::value(attempts))
        .col_expr(Column::LastError, Expr::value(Some(truncate(error, 1000))))
        .col_expr(Column::NextAttemptAt, Expr::value(next_attempt_at))
        .col_expr(Column::FailedAt, Expr::value(failed_at))
        .col_expr(Column::ClaimedUntil, Expr::value(none))
        .col_expr(Column::ClaimToken, Expr::value(Option::<String>::None))
        .filter(Column::Id.eq(mail.id))
        .filter(Column::ClaimToken.eq(token))
        .exec(db)
        .await?
        .rows_affected;
    Ok(if updated == 1 {
        outcome
    } else {
        AfterFailure::ClaimLost
    })
}

/// At most `max` characters of `text`.
fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_from_a_minute_to_at_most_two_hours() {
        let minutes: Vec<i64> = (1..=10).map(|n| retry_delay(n).num_minutes()).collect();
        assert_eq!(minutes, vec![1, 2, 4, 8, 16, 32, 64, 120, 120, 120]);
        assert_eq!(retry_delay(0).num_minutes(), 1);
    }

    #[test]
    fn payment_mails_speak_the_persons_language_and_say_what_happened() {
        let link = "http://x/bookings/12/receipt";
        for locale in ["ja", "en"] {
            let paid =
                payment_confirmed(locale, 12, "体育館", "2026-12-10 09:00–11:00", 4200, link);
            assert!(paid.body.contains(link) && paid.body.contains("4200"));
            assert!(paid.subject.contains("12"));
            let cancelled = booking_cancelled_by_facility(locale, 12, "体育館", "…", "停電", 4200);
            assert!(cancelled.body.contains("停電") && cancelled.body.contains("4200"));
            let unpaid = booking_cancelled_by_facility(locale, 12, "体育館", "…", "停電", 0);
            assert!(!unpaid.body.contains(" 0"));
        }
        assert!(
            payment_confirmed("ja", 1, "", "", 1, "l")
                .subject
                .contains("お支払い")
        );
        assert!(refund_made("ja", 1, 500, true).body.contains("窓口"));
        assert!(refund_made("en", 1, 500, true).body.contains("counter"));
        assert!(!refund_made("en", 1, 500, false).body.contains("counter"));
        assert_eq!(refund_made("en", 1, 500, false).template, "refund_made");
    }

    #[test]
    fn the_verification_mail_speaks_the_persons_language_and_carries_the_link() {
        let ja = verify_email("ja", "横浜 花子", "http://x/verify?token=abc");
        assert!(ja.subject.contains("メールアドレスの確認"));
        assert!(ja.body.contains("横浜 花子 様") && ja.body.contains("http://x/verify?token=abc"));
        let en = verify_email("en", "Hanako", "http://x/verify?token=abc");
        assert!(en.subject.contains("confirm your email"));
        assert!(en.body.contains("http://x/verify?token=abc"));
    }
}
