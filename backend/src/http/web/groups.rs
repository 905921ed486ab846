//! Group (団体) pages over services::groups, the same use cases as `/api/v1/groups`: my groups
//! and a form to start one; a group's page with its members, and for its representative the
//! forms to add (by card number and date of birth) and remove members, register the group and
//! dissolve it; for other members, leaving. Every form posts and redirects back (303) on
//! success, or comes back with the reason next to the field it concerns and in the summary.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use serde::Deserialize;

use super::i18n::Lang;
use super::page::{Chrome, FormErrors};
use crate::domain::groups::GroupRuleError;
use crate::services::groups::{self, GroupError};
use crate::state::AppState;
use crate::views::group::{AddMemberRequest, CreateGroupRequest, GroupResponse};

/// A text with `{0}`, `{1}`, `{2}` filled in.
fn fill(c: &Chrome, key: &str, args: &[String]) -> String {
    args.iter()
        .enumerate()
        .fold(c.t(key).to_owned(), |text, (index, arg)| {
            text.replace(&format!("{{{index}}}"), arg)
        })
}

/// A group rule's refusal in the page's language, with its numbers.
pub fn rule_message(c: &Chrome, rule: &GroupRuleError) -> String {
    match rule {
        GroupRuleError::TooFewMembers { min, min_age, have } => fill(
            c,
            "groups.rule_too_small",
            &[min.to_string(), min_age.to_string(), have.to_string()],
        ),
        GroupRuleError::TooFewInCity {
            needed,
            members,
            have,
        } => fill(
            c,
            "groups.rule_not_in_city",
            &[needed.to_string(), members.to_string(), have.to_string()],
        ),
        GroupRuleError::MembersShared { shared, max, .. } => fill(
            c,
            "groups.rule_members_shared",
            &[shared.to_string(), max.to_string()],
        ),
        GroupRuleError::TooManyGroups { max, .. } => {
            fill(c, "groups.rule_too_many_groups", &[max.to_string()])
        }
        GroupRuleError::TooManyMembers { max } => {
            fill(c, "groups.rule_too_large", &[max.to_string()])
        }
    }
}

/// Where a refusal is shown: next to a field (and in the summary), or as a problem of the whole
/// form. `fields` are the form's fields a rule or input refusal may concern.
fn explain(c: &Chrome, error: &GroupError, rule_field: &str) -> (FormErrors, Option<String>) {
    let mut errors = FormErrors::default();
    let mut problem = None;
    match error {
        GroupError::InvalidInput { field, message } => {
            let text = match c.lang {
                Lang::En => c.f("register.err_en", message),
                Lang::Ja => c.t(&format!("groups.err_{field}")).to_owned(),
            };
            errors.add(field, text);
        }
        GroupError::Rule(rule) => errors.add(rule_field, rule_message(c, rule)),
        GroupError::MemberNotFound => {
            errors.add("card_number", c.t("groups.err_member_not_found"));
            errors.add("date_of_birth", c.t("groups.err_member_not_found_dob"));
        }
        GroupError::AlreadyMember => errors.add("card_number", c.t("groups.err_already_member")),
        GroupError::NotApproved => problem = Some(c.t("groups.err_not_approved").to_owned()),
        GroupError::WrongState(_) => problem = Some(c.t("groups.err_state").to_owned()),
        GroupError::RepresentativeStays => {
            problem = Some(c.t("groups.err_representative_stays").to_owned())
        }
        GroupError::HasBookings => problem = Some(c.t("groups.err_has_bookings").to_owned()),
        GroupError::NotRepresentative | GroupError::Forbidden(_) => {
            problem = Some(c.t("groups.err_forbidden").to_owned())
        }
        GroupError::NotBookable | GroupError::RepresentsGroup(_) => {
            problem = Some(c.t("groups.err_state").to_owned())
        }
        GroupError::NotFound | GroupError::Db(_) => {}
    }
    (errors, problem)
}

/// A group as the pages show it.
pub struct GroupView {
    pub g: GroupResponse,
    pub state_label: &'static str,
    pub valid_until: Option<String>,
}

fn view(c: &Chrome, g: GroupResponse) -> GroupView {
    GroupView {
        state_label: c.t(match g.state.as_str() {
            "registered" => "groups.state_registered",
            "dissolved" => "groups.state_dissolved",
            _ => "groups.state_forming",
        }),
        valid_until: g.valid_until.as_ref().map(|d| c.date(d)),
        g,
    }
}

/// The form starting a group.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub name_kana: String,
    #[serde(default)]
    pub activity: String,
}

#[derive(Template)]
#[template(path = "groups.html")]
pub struct GroupsPage<'a> {
    pub c: &'a Chrome,
    pub groups: Vec<GroupView>,
    pub form: CreateForm,
    pub errors: FormErrors,
    pub problem: Option<String>,
    pub notice: Option<&'static str>,
}

/// `?done=` after leaving or dissolving.
#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    pub done: Option<String>,
}

async fn groups_page(
    c: &Chrome,
    state: &AppState,
    status: StatusCode,
    form: CreateForm,
    (errors, problem): (FormErrors, Option<String>),
    notice: Option<&'static str>,
) -> Response {
    let user_id = match c.require_user() {
        Ok(user) => user.id,
        Err(redirect) => return redirect,
    };
    let groups = match groups::my_groups(&state.db, user_id, Utc::now()).await {
        Ok(list) => list.into_iter().map(|g| view(c, g)).collect(),
        Err(error) => return c.internal(error),
    };
    let page = GroupsPage {
        c,
        groups,
        form,
        errors,
        problem,
        notice,
    };
    c.respond(status, &page)
}

/// `GET /groups`: my groups and the form to start one.
pub async fn list(
    c: Chrome,
    State(state): State<AppState>,
    Query(query): Query<DoneQuery>,
) -> Response {
    let notice = match query.done.as_deref() {
        Some("left") => Some(c.t("groups.left")),
        Some("dissolved") => Some(c.t("groups.dissolved")),
        _ => None,
    };
    groups_page(
        &c,
        &state,
        StatusCode::OK,
        CreateForm::default(),
        (FormErrors::default(), None),
        notice,
    )
    .await
}

/// `POST /groups`: start a group; its page comes next.
pub async fn create(
    c: Chrome,
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<CreateForm>,
) -> Response {
    if !c.check_csrf(&state, &headers, &form.csrf) {
        return c.stale_form();
    }
    let user = match c.require_user() {
        Ok(user) => user.clone(),
        Err(redirect) => return redirect,
    };
    let request = CreateGroupRequest {
        name: form.name.clone(),
        name_kana: form.name_kana.clone(),
        activity: form.activity.clone(),
    };
    match groups::create_group(&state.db, (user.id, user.role), &request, Utc::now()).await {
        Ok(group) => Redirect::to(&format!("/groups/{}?done=created", group.id)).into_response(),
        Err(GroupError::Db(error)) => c.internal(error),
        Err(error) => {
            let explained = explain(&c, &error, "name");
            groups_page(&c, &state, StatusCode::BAD_REQUEST, form, explained, None).await
        }
    }
}

/// The form adding a member.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct MemberForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub card_number: String,
    #[serde(default)]
    pub date_of_birth: String,
}

/// A form with only the CSRF token (remove, leave, register, dissolve).
#[derive(Debug, Default, Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    pub csrf: String,
}

/// One member's row.
pub struct MemberRow {
    pub user_id: i32,
    pub name: String,
    pub card_number: String,
    pub is_representative: bool,
    pub counts: bool,
    pub in_city: bool,
}

#[derive(Template)]
#[template(path = "group.html")]
pub struct GroupPage<'a> {
    pub c: &'a Chrome,
    pub v: GroupView,
    pub members: Vec<MemberRow>,
    pub form: MemberForm,
    pub errors: FormErrors,
    pub problem: Option<String>,
    pub notice: Option<&'static str>,
}

async fn group_page(
    c: &Chrome,
    state: &AppState,
    id: i32,
    status: StatusCode,
    form: MemberForm,
    (errors, problem): (FormErrors, Option<String>),
    notice: Option<&'static str>,
) -> Response {
    let user_id = match c.require_user() {
        Ok(user) => user.id,
        Err(redirect) => return redirect,
    };
    let group = match groups::get_group(&state.db, user_id, id, Utc::now()).await {
        Ok(group) => group,
        Err(GroupError::NotFound) => return c.not_found(),
        Err(error) => return c.internal(error),
    };
    let members = group
        .members
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|m| MemberRow {
            user_id: m.user_id,
            name: m.name,
            card_number: m.card_number.unwrap_or_default(),
            is_representative: m.is_representative,
            counts: m.counts_toward_minimum,
            in_city: m.in_city,
        })
        .collect();
    let page = GroupPage {
        c,
        v: view(c, group),
        members,
        form,
        errors,
        problem,
        notice,
    };
    c.respond(status, &page)
}

/// `GET /groups/{id}`.
pub async fn show(
    c: Chrome,
    State(state): State<AppState>,
    Path(id): Path<i32>,
    Query(query): Query<DoneQuery>,
) -> Response {
    let notice = match query.done.as_deref() {
        Some("created") => Some(c.t("groups.created")),
        Some("added") => Some(c.t("groups.added")),
        Some("removed") => Some(c.t("groups.removed")),
        Some("registered") => Some(c.t("groups.registered")),
        _ => None,
    };
    group_page(
        &c,
        &state,
        id,
        StatusCode::OK,
        MemberForm::default(),
        (FormErrors::default(), None),
        notice,
    )
    .await
}

/// The status of a refusal on a group's page.
fn refusal_status(error: &GroupError) -> StatusCode {
    match error {
        GroupError::InvalidInput { .. } => StatusCode::BAD_REQUEST,
        GroupError::NotRepresentative | GroupError::Forbidden(_) | GroupError::NotApproved => {
            StatusCode::FORBIDDEN
        }
        GroupError::AlreadyMember | GroupError::WrongState(_) | GroupError::HasBookings => {
            StatusCode::CONFLICT
        }
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

/// After a group action: back to the page with a notice, or the page with the refusal.
async fn after(
    c: &Chrome,
    state: &AppState,
    id: i32,
    form: MemberForm,
    rule_field: &str,
    result: Result<&'static str, GroupError>,
) -> Response {
    match result {
        Ok(target) => Redirect::to(target_url(id, target).as_str()).into_response(),
        Err(GroupError::NotFound) => c.not_found(),
        Err(GroupError::Db(error)) => c.internal(error),
        Err(error) => {
            let status = refusal_status(&error);
            let explained = explain(c, &error, rule_field);
            group_page(c, state, id, status, form, explained, None).await
        }
    }
}

/// Where a successful action leads: the group's page with a notice, or my groups.
fn target_url(id: i32, done: &str) -> String {
    match done {
        "left" | "dissolved" => format!("/groups?done={done}"),
        _ => format!("/groups/{id}?done={done}"),
    }
}

/// `POST /groups/{id}/members`: the representative adds a member.
pub async fn add_member(
    c: Chrome,
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i32>,
    Form(form): Form<MemberForm>,
) -> Response {
    if !c.check_csrf(&state, &headers, &form.csrf) {
        return c.stale_form();
    }
    let user_id = match c.require_user() {
        Ok(user) => user.id,
        Err(redirect) => return redirect,
    };
    let request = AddMemberRequest {
        card_number: form.card_number.clone(),
        date_of_birth: form.date_of_birth.clone(),
    };
    let result = groups::add_member(&state.db, user_id, id, &request, Utc::now())
        .await
        .map(|_| "added");
    after(&c, &state, id, form, "card_number", result).await
}

/// `POST /groups/{id}/members/{user_id}/remove`.
pub async fn remove_member(
    c: Chrome,
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, member)): Path<(i32, i32)>,
    Form(form): Form<ActionForm>,
) -> Response {
    if !c.check_csrf(&state, &headers, &form.csrf) {
        return c.stale_form();
    }
    let user_id = match c.require_user() {
        Ok(user) => user.id,
        Err(redirect) => return redirect,
    };
    let result = groups::remove_member(&state.db, user_id, id, member, Utc::now())
        .await
        .map(|_| "removed");
    after(&c, &state, id, MemberForm::default(), "members", result).await
}

/// Which of the one-button actions a form asks for.
#[derive(Clone, Copy, Debug)]
pub enum GroupAction {
    Leave,
    Register,
    Dissolve,
}

async fn act(
    c: Chrome,
    state: AppState,
    headers: HeaderMap,
    id: i32,
    form: ActionForm,
    action: GroupAction,
) -> Response {
    if !c.check_csrf(&state, &headers, &form.csrf) {
        return c.stale_form();
    }
    let user_id = match c.require_user() {
        Ok(user) => user.id,
        Err(redirect) => return redirect,
    };
    let now = Utc::now();
    let result = match action {
        GroupAction::Leave => groups::leave_group(&state.db, user_id, id, now)
            .await
            .map(|_| "left"),
        GroupAction::Register => groups::register_group(&state.db, user_id, id, now)
            .await
            .map(|_| "registered"),
        GroupAction::Dissolve => groups::dissolve_group(&state.db, user_id, id, now)
            .await
            .map(|_| "dissolved"),
    };
    after(&c, &state, id, MemberForm::default(), "members", result).await
}

/// `POST /groups/{id}/leave`.
pub async fn leave(
    c: Chrome,
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i32>,
    Form(form): Form<ActionForm>,
) -> Response {
    act(c, state, headers, id, form, GroupAction::Leave).await
}

/// `POST /groups/{id}/register`: check every rule and register the group for three years.
pub async fn register(
    c: Chrome,
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i32>,
    Form(form): Form<ActionForm>,
) -> Response {
    act(c, state, headers, id, form, GroupAction::Register).await
}

/// The dissolve form: dissolving cannot be undone, so a box must be ticked first.
#[derive(Debug, Default, Deserialize)]
pub struct DissolveForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub confirm: String,
}

/// `POST /groups/{id}/dissolve`: only with the box ticked.
pub async fn dissolve(
    c: Chrome,
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i32>,
    Form(form): Form<DissolveForm>,
) -> Response {
    if form.confirm != "yes" && c.check_csrf(&state, &headers, &form.csrf) {
        let mut errors = FormErrors::default();
        errors.add("confirm", c.t("groups.err_confirm"));
        return group_page(
            &c,
            &state,
            id,
            StatusCode::BAD_REQUEST,
            MemberForm::default(),
            (errors, None),
            None,
        )
        .await;
    }
    let action = ActionForm { csrf: form.csrf };
    act(c, state, headers, id, action, GroupAction::Dissolve).await
}

#[cfg(test)]
mod tests {
    use super::target_url;

    #[test]
    fn leaving_and_dissolving_lead_back_to_my_groups() {
        assert_eq!(target_url(7, "left"), "/groups?done=left");
        assert_eq!(target_url(7, "dissolved"), "/groups?done=dissolved");
        assert_eq!(target_url(7, "added"), "/groups/7?done=added");
    }
}
