//! 団体登録: groups, their members and the bookings made for them.
//!
//! A group is registered by a representative, who is also one of its members. Members are
//! registered individuals, so their age and residency are known and the group rules can be
//! checked (domain::groups). The rules that span rows (a person in at most two groups, no three
//! members shared with another group) are checked by the service with the members' rows locked;
//! what one row or key can hold is held here.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Group states; mirrored by `domain::groups::GroupState`.
pub const GROUP_STATES: &[&str] = &["forming", "registered", "dissolved"];

fn fk(
    name: &str,
    from: (&str, &str),
    to: &str,
    action: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(Alias::new(from.0), Alias::new(from.1))
        .to(Alias::new(to), Alias::new("id"))
        .on_delete(action)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("group_registrations")
                .col(pk_auto("id"))
                .col(string("name").check(Expr::cust("length(name) BETWEEN 1 AND 100")))
                .col(string("name_kana").check(Expr::cust("length(name_kana) BETWEEN 1 AND 100")))
                // What the group does (e.g. バドミントン), shown to staff.
                .col(text("activity"))
                .col(integer("representative_user_id"))
                .col(
                    string("state").check(
                        Expr::col(Alias::new("state"))
                            .is_in(GROUP_STATES.iter().map(|s| String::from(*s))),
                    ),
                )
                // 減免 granted to the group by the city, if any.
                .col(integer_null("fee_reduction_id"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("registered_at"))
                .col(date_null("valid_until"))
                // A registered group has its dates; a forming one has none yet.
                .check(Expr::cust(
                    "state <> 'registered' OR (registered_at IS NOT NULL AND valid_until IS NOT NULL)",
                ))
                .foreign_key(&mut fk(
                    "fk_group_registrations_representative",
                    ("group_registrations", "representative_user_id"),
                    "users",
                    ForeignKeyAction::Restrict,
                ))
                .foreign_key(&mut fk(
                    "fk_group_registrations_fee_reduction",
                    ("group_registrations", "fee_reduction_id"),
                    "fee_reductions",
                    ForeignKeyAction::Restrict,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_group_registrations_representative")
                .table("group_registrations")
                .col("representative_user_id")
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("group_members")
                .col(integer("group_id"))
                .col(integer("user_id"))
                .col(boolean("is_representative"))
                .col(timestamp_with_time_zone("joined_at"))
                .primary_key(Index::create().col("group_id").col("user_id"))
                .foreign_key(&mut fk(
                    "fk_group_members_group",
                    ("group_members", "group_id"),
                    "group_registrations",
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    "fk_group_members_user",
                    ("group_members", "user_id"),
                    "users",
                    ForeignKeyAction::Restrict,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_group_members_user")
                .table("group_members")
                .col("user_id")
                .to_owned(),
        )
        .await?;
        // One representative per group.
        m.get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX ux_group_members_one_representative \
                 ON group_members (group_id) WHERE is_representative",
            )
            .await?;
        m.create_table(
            Table::create()
                .table("group_bookings")
                .col(big_integer("booking_id").primary_key())
                .col(integer("group_id"))
                .foreign_key(&mut fk(
                    "fk_group_bookings_booking",
                    ("group_bookings", "booking_id"),
                    "bookings",
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    "fk_group_bookings_group",
                    ("group_bookings", "group_id"),
                    "group_registrations",
                    ForeignKeyAction::Restrict,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_group_bookings_group")
                .table("group_bookings")
                .col("group_id")
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in ["group_bookings", "group_members", "group_registrations"] {
            m.drop_table(
                Table::drop()
                    .table(Alias::new(table))
                    .if_exists()
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
