//! Indexes for the counter and the audit log viewer: staff find a person by phone or by date of
//! birth (with the name compared in the application), and administrators filter the audit log
//! by who acted and by action, newest first. Without them each lookup reads the whole table.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (index name, table, columns)
const INDEXES: &[(&str, &str, &[&str])] = &[
    ("ix_users_phone", "users", &["phone"]),
    ("ix_users_date_of_birth", "users", &["date_of_birth"]),
    (
        "ix_audit_log_actor_at",
        "audit_log",
        &["actor_user_id", "at"],
    ),
    ("ix_audit_log_action_at", "audit_log", &["action", "at"]),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, columns) in INDEXES {
            let mut index = Index::create();
            index.name(*name).table(Alias::new(*table));
            for column in *columns {
                index.col(Alias::new(*column));
            }
            m.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, _) in INDEXES {
            m.drop_index(
                Index::drop()
                    .name(*name)
                    .table(Alias::new(*table))
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
