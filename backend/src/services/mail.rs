//! Mail: written to the outbox inside the transaction that causes it, never sent from inside a
//! transaction. A job sends it when SMTP is configured; without SMTP it stays readable
//! (`yoyaku outbox`, and `GET /api/v1/dev/outbox` in demo mode).

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ConnectionTrait, DbErr, EntityTrait, QueryOrder, QuerySelect,
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

#[cfg(test)]
mod tests {
    use super::*;

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
