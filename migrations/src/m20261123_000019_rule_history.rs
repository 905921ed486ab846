//! Configuration with history: the city-wide rules (booking phases, limits, payment and refund
//! rules; penalty rules; the lottery calendar) as versions that take effect from a date, and
//! the rates of each fee reduction (減免) likewise. Room prices and the fee policy already carry
//! `effective_from` (migration 000001) and gain nothing here.
//!
//! A version is never changed once its day has come: the service refuses it, and the history
//! is the rows themselves (with who saved each and why) plus the audit log. One version per
//! section and day (UNIQUE), so "what is in force on D" has one answer.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The sections of the configuration that can be edited with history.
pub const RULE_SECTIONS: &[&str] = &["booking", "penalties", "lottery"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("rule_versions")
                .col(pk_auto("id"))
                .col(
                    string_len("section", 32)
                        .check(Expr::col(Alias::new("section")).is_in(RULE_SECTIONS.to_vec())),
                )
                // The whole section, as the configuration file's `[section]` would hold it
                // (serde's JSON form), validated by the domain before it is written.
                .col(json("body"))
                .col(date("effective_from"))
                .col(integer("saved_by"))
                .col(timestamp_with_time_zone("saved_at"))
                .col(string_len("note", 500).default(""))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_rule_versions_saved_by")
                        .from("rule_versions", "saved_by")
                        .to("users", "id")
                        .on_delete(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_rule_versions_section_from")
                .table("rule_versions")
                .col("section")
                .col("effective_from")
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("fee_reduction_rates")
                .col(pk_auto("id"))
                .col(integer("fee_reduction_id"))
                .col(
                    integer("percent_off").check(
                        Expr::col(Alias::new("percent_off"))
                            .gte(0)
                            .and(Expr::col(Alias::new("percent_off")).lte(100)),
                    ),
                )
                .col(date("effective_from"))
                .col(integer("saved_by"))
                .col(timestamp_with_time_zone("saved_at"))
                .col(string_len("note", 500).default(""))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_fee_reduction_rates_reduction")
                        .from("fee_reduction_rates", "fee_reduction_id")
                        .to("fee_reductions", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_fee_reduction_rates_saved_by")
                        .from("fee_reduction_rates", "saved_by")
                        .to("users", "id")
                        .on_delete(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_fee_reduction_rates_reduction_from")
                .table("fee_reduction_rates")
                .col("fee_reduction_id")
                .col("effective_from")
                .unique()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("fee_reduction_rates").to_owned())
            .await?;
        m.drop_table(Table::drop().table("rule_versions").to_owned())
            .await
    }
}
