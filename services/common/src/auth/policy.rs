//! The permission engine: how a service's rules are written and how a
//! decision is made from them. The rules themselves belong to each service
//! (its `policy.rs`), handed to the server bootstrap; this module knows no
//! service's actions.
//!
//! A [`Rule`] is one row: an action, the gRPC methods that perform it, what
//! a record outside the caller's scope answers, and the grants by role. A
//! role not named holds no grant. A grant has a [`Scope`]: every center,
//! the caller's own center, only the records the caller submitted, or the
//! centers named in the caller's grant. A record outside the scope is
//! *hidden* for reads (NOT_FOUND, so existence does not leak) and *denied*
//! for creation (PERMISSION_DENIED: the centers are public anyway).

use super::{Principal, Role};

/// How far a grant reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    AllCenters,
    OwnCenter,
    /// Records whose submitter is the caller.
    OwnRecords,
    /// The centers named in the caller's grant ([`Principal::centers`]).
    GrantedCenters,
}

impl Scope {
    /// How the permission tables in the READMEs write it.
    pub fn label(self) -> &'static str {
        match self {
            Scope::AllCenters => "all centers",
            Scope::OwnCenter => "own center",
            Scope::OwnRecords => "own records",
            Scope::GrantedCenters => "granted centers",
        }
    }
}

/// What an out-of-scope record answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outside {
    /// NOT_FOUND / 404, exactly like a record that does not exist.
    Hidden,
    /// PERMISSION_DENIED / 403.
    Denied,
}

/// Who may perform an action at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without a token (the catalog, the public progress look-up).
    Public,
    /// A verified token whose role holds a grant; `Outside` says what a
    /// record beyond the grant's scope answers.
    Granted(Outside),
}

/// One role's grant of one action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grant {
    pub role: Role,
    pub scope: Scope,
}

/// Shorthand for a grant in a rule's table.
pub const fn grant(role: Role, scope: Scope) -> Grant {
    Grant { role, scope }
}

/// One row of a service's permission table.
#[derive(Debug)]
pub struct Rule {
    /// The action's name, as the audit log and the README write it.
    pub name: &'static str,
    /// What it is, for people (Chinese first).
    pub summary: &'static str,
    /// The gRPC methods (`/package.Service/Method`) that perform it. A rule
    /// without methods is checked inside a handler or a state machine (a
    /// step of a case, a full view inside a read).
    pub methods: &'static [&'static str],
    pub access: Access,
    pub grants: &'static [Grant],
}

impl PartialEq for Rule {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Rule {
    pub fn is_public(&self) -> bool {
        self.access == Access::Public
    }

    /// The scope `role` holds, if any.
    pub fn scope_of(&self, role: Role) -> Option<Scope> {
        self.grants.iter().find(|g| g.role == role).map(|g| g.scope)
    }

    /// Whether `role` holds any grant.
    pub fn allows(&self, role: Role) -> bool {
        self.is_public() || self.scope_of(role).is_some()
    }

    /// The roles holding a grant, in table order.
    pub fn roles(&self) -> impl Iterator<Item = Role> + '_ {
        self.grants.iter().map(|g| g.role)
    }
}

/// A service's whole table: what it hands to the server bootstrap.
#[derive(Debug)]
pub struct Policy {
    /// The gRPC service the methods belong to (`bianmin.intake.v1.IntakeService`).
    pub service: &'static str,
    pub rules: &'static [&'static Rule],
}

/// Infrastructure every caller (probes, `grpcurl`) may use without a token.
const OPEN_PREFIXES: &[&str] = &["/grpc.health.v1.Health/", "/grpc.reflection."];

impl Policy {
    /// The rule a gRPC method performs.
    pub fn rule_of_method(&self, path: &str) -> Option<&'static Rule> {
        self.rules
            .iter()
            .copied()
            .find(|r| r.methods.contains(&path))
    }

    /// Whether a gRPC path may be called without credentials. A method no
    /// rule names needs a token, and its handler must apply a rule itself.
    pub fn is_open_method(&self, path: &str) -> bool {
        OPEN_PREFIXES.iter().any(|p| path.starts_with(p))
            || self.rule_of_method(path).is_some_and(Rule::is_public)
    }

    /// The table as Markdown: one row per action, one column per role. The
    /// service's README carries exactly this between its policy markers
    /// (a test of each service compares them).
    pub fn markdown(&self) -> String {
        const ROLES: [Role; 9] = [
            Role::Supervisor,
            Role::Specialist,
            Role::QualityInspector,
            Role::TechSupport,
            Role::EmergencyResponder,
            Role::DistrictAdmin,
            Role::Resident,
            Role::Partner,
            Role::Service,
        ];
        let mut out = String::from("| action | what | outside the scope |");
        for role in ROLES {
            out.push_str(&format!(" {} |", role.as_str()));
        }
        out.push_str("\n| --- | --- | --- |");
        out.push_str(&" --- |".repeat(ROLES.len()));
        out.push('\n');
        for rule in self.rules {
            let outside = match rule.access {
                Access::Public => "public",
                Access::Granted(Outside::Hidden) => "404",
                Access::Granted(Outside::Denied) => "403",
            };
            out.push_str(&format!(
                "| `{}` | {} | {} |",
                rule.name, rule.summary, outside
            ));
            for role in ROLES {
                let cell = match (rule.access, rule.scope_of(role)) {
                    (Access::Public, _) => "anyone",
                    (_, Some(scope)) => scope.label(),
                    (_, None) => "—",
                };
                out.push_str(&format!(" {cell} |"));
            }
            out.push('\n');
        }
        out
    }

    /// Replaces the block between `<!-- policy:begin -->` and
    /// `<!-- policy:end -->` in `readme` with [`Policy::markdown`]; `None`
    /// when the markers are missing.
    pub fn render_into(&self, readme: &str) -> Option<String> {
        const BEGIN: &str = "<!-- policy:begin -->";
        const END: &str = "<!-- policy:end -->";
        let start = readme.find(BEGIN)? + BEGIN.len();
        let end = start + readme[start..].find(END)?;
        Some(format!(
            "{}\n{}{}",
            &readme[..start],
            self.markdown(),
            &readme[end..]
        ))
    }

    /// Checks the table's own consistency: unique names, every method of
    /// this service and named once, public rules without grants. Each
    /// service's tests call it.
    pub fn check(&self) -> Result<(), String> {
        let mut names = std::collections::HashSet::new();
        let mut methods = std::collections::HashSet::new();
        let prefix = format!("/{}/", self.service);
        for rule in self.rules {
            if !names.insert(rule.name) {
                return Err(format!("action {} is listed twice", rule.name));
            }
            if rule.is_public() && !rule.grants.is_empty() {
                return Err(format!("public action {} lists grants", rule.name));
            }
            let mut roles = std::collections::HashSet::new();
            if !rule.roles().all(|r| roles.insert(r)) {
                return Err(format!("action {} grants a role twice", rule.name));
            }
            for m in rule.methods {
                if !m.starts_with(&prefix) {
                    return Err(format!("{m} is not a method of {}", self.service));
                }
                if !methods.insert(*m) {
                    return Err(format!("{m} is performed by two actions"));
                }
            }
        }
        Ok(())
    }
}

impl Policy {
    /// What each service's tests ask of its table: consistent
    /// ([`Policy::check`]), every method of the service in
    /// `file_descriptor_set` performed by a rule, and `readme` showing
    /// exactly this table between its markers.
    pub fn verify(&self, file_descriptor_set: &[u8], readme: &str) -> Result<(), String> {
        self.check()?;
        let methods = crate::grpc::methods_of(file_descriptor_set, self.service);
        if methods.is_empty() {
            return Err(format!(
                "{} has no methods in the descriptors",
                self.service
            ));
        }
        if let Some(m) = methods.iter().find(|m| self.rule_of_method(m).is_none()) {
            return Err(format!("{m} is performed by no rule"));
        }
        match self.render_into(readme) {
            None => {
                Err("the README has no <!-- policy:begin --> … <!-- policy:end --> block".into())
            }
            Some(expected) if expected != readme => Err(format!(
                "the README's permission table differs from the policy; the block should read:\n{}",
                self.markdown()
            )),
            Some(_) => Ok(()),
        }
    }
}

/// The two tests every service's `policy.rs` carries, for its `POLICY`:
/// the table checked against the service's gRPC methods and its README's
/// block (`the_table_names_every_method_and_the_readme_shows_it`), and an
/// ignored one that rewrites the README's block from the table
/// (`cargo test -p bianmin-<name> -- --ignored write_the_readme_table`).
#[macro_export]
macro_rules! policy_readme_tests {
    ($policy:path) => {
        #[test]
        #[ignore]
        fn write_the_readme_table() {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
            let readme = std::fs::read_to_string(path).unwrap();
            std::fs::write(path, $policy.render_into(&readme).unwrap()).unwrap();
        }

        #[test]
        fn the_table_names_every_method_and_the_readme_shows_it() {
            let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"));
            $policy
                .verify(::bianmin_proto::FILE_DESCRIPTOR_SET, readme)
                .unwrap();
        }
    };
}

/// The record an action touches.
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    pub center_id: &'a str,
    /// Subject that submitted it (for [`Scope::OwnRecords`]); for a record
    /// being created, the caller.
    pub owner: Option<&'a str>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Answer NOT_FOUND / 404.
    Hidden,
    /// Answer PERMISSION_DENIED / 403.
    Denied,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allowed",
            Decision::Hidden => "hidden",
            Decision::Denied => "denied",
        }
    }
}

/// The rule applied to one caller and record. Pure.
pub fn decide(principal: &Principal, rule: &Rule, target: Target<'_>) -> Decision {
    let outside = match rule.access {
        Access::Public => return Decision::Allow,
        Access::Granted(outside) => outside,
    };
    let Some(scope) = rule.scope_of(principal.role) else {
        return Decision::Denied;
    };
    let inside = match scope {
        Scope::AllCenters => true,
        Scope::OwnCenter => principal.center_id.as_deref() == Some(target.center_id),
        Scope::OwnRecords => target.owner == Some(principal.subject.as_str()),
        Scope::GrantedCenters => principal.centers.iter().any(|c| c == target.center_id),
    };
    match (inside, outside) {
        (true, _) => Decision::Allow,
        (false, Outside::Hidden) => Decision::Hidden,
        (false, Outside::Denied) => Decision::Denied,
    }
}

/// Which centers a listing (a queue, a report) covers for this caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listing {
    /// Every center, or the one the caller asked for.
    Centers(Option<String>),
    /// Nothing: the caller's role holds no grant for the action.
    Denied,
}

/// The centers a listing may cover: a district-wide grant covers the center
/// asked for (all when none is asked); a center grant covers the caller's
/// own center whatever was asked (a staff member without a center sees
/// nothing rather than everything). Pure.
pub fn listing(principal: &Principal, rule: &Rule, asked: &str) -> Listing {
    let asked = asked.trim();
    match rule.scope_of(principal.role) {
        Some(Scope::AllCenters) => Listing::Centers((!asked.is_empty()).then(|| asked.to_string())),
        Some(Scope::OwnCenter) => {
            Listing::Centers(Some(principal.center_id.clone().unwrap_or_default()))
        }
        // Listings cover one center or every center; scopes by record owner
        // or by granted centers have none.
        Some(Scope::OwnRecords) | Some(Scope::GrantedCenters) | None => Listing::Denied,
    }
}

/// The decision as a gRPC answer. `not_found` is exactly what the service
/// answers for a record that does not exist, so a hidden one is
/// indistinguishable from it, message included.
pub fn status(
    decision: Decision,
    not_found: impl FnOnce() -> tonic::Status,
) -> Result<(), tonic::Status> {
    match decision {
        Decision::Allow => Ok(()),
        Decision::Hidden => Err(not_found()),
        Decision::Denied => Err(denied()),
    }
}

/// PERMISSION_DENIED, worded the same wherever a table refuses.
pub fn denied() -> tonic::Status {
    tonic::Status::permission_denied("无权执行此操作 (not permitted for your role or center)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use Role::*;
    use Scope::*;

    const READ: Rule = Rule {
        name: "read_thing",
        summary: "读取",
        methods: &["/t.v1.T/Get"],
        access: Access::Granted(Outside::Hidden),
        grants: &[
            grant(Specialist, OwnCenter),
            grant(DistrictAdmin, AllCenters),
            grant(Resident, OwnRecords),
            grant(Partner, GrantedCenters),
        ],
    };
    const CREATE: Rule = Rule {
        name: "create_thing",
        summary: "新建",
        methods: &["/t.v1.T/Create"],
        access: Access::Granted(Outside::Denied),
        grants: &[grant(Specialist, OwnCenter)],
    };
    const LIST: Rule = Rule {
        name: "list",
        summary: "公开",
        methods: &["/t.v1.T/List"],
        access: Access::Public,
        grants: &[],
    };
    const POLICY: Policy = Policy {
        service: "t.v1.T",
        rules: &[&READ, &CREATE, &LIST],
    };

    fn caller(role: Role, center: Option<&str>, centers: &[&str]) -> Principal {
        Principal {
            subject: "me".into(),
            role,
            center_id: center.map(str::to_string),
            centers: centers.iter().map(|c| c.to_string()).collect(),
        }
    }

    fn at<'a>(center: &'a str, owner: &'a str) -> Target<'a> {
        Target {
            center_id: center,
            owner: Some(owner),
        }
    }

    #[test]
    fn scopes_reach_as_far_as_they_say() {
        let s = caller(Specialist, Some("C01"), &[]);
        assert_eq!(decide(&s, &READ, at("C01", "x")), Decision::Allow);
        assert_eq!(decide(&s, &READ, at("C02", "x")), Decision::Hidden);
        assert_eq!(decide(&s, &CREATE, at("C02", "x")), Decision::Denied);
        let admin = caller(DistrictAdmin, None, &[]);
        assert_eq!(decide(&admin, &READ, at("C09", "x")), Decision::Allow);
        let resident = caller(Resident, None, &[]);
        assert_eq!(decide(&resident, &READ, at("C01", "me")), Decision::Allow);
        assert_eq!(decide(&resident, &READ, at("C01", "x")), Decision::Hidden);
        let partner = caller(Partner, None, &["C01"]);
        assert_eq!(decide(&partner, &READ, at("C01", "x")), Decision::Allow);
        assert_eq!(decide(&partner, &READ, at("C02", "x")), Decision::Hidden);
        // No grant for the role: denied whatever the record.
        let tech = caller(TechSupport, Some("C01"), &[]);
        assert_eq!(decide(&tech, &READ, at("C01", "x")), Decision::Denied);
        // Public: anyone.
        assert_eq!(decide(&tech, &LIST, at("C01", "x")), Decision::Allow);
    }

    #[test]
    fn listings_cover_the_own_center_or_what_an_admin_asks() {
        let s = caller(Specialist, Some("C01"), &[]);
        assert_eq!(
            listing(&s, &READ, "C02"),
            Listing::Centers(Some("C01".into()))
        );
        let admin = caller(DistrictAdmin, None, &[]);
        assert_eq!(listing(&admin, &READ, ""), Listing::Centers(None));
        assert_eq!(
            listing(&admin, &READ, " C02 "),
            Listing::Centers(Some("C02".into()))
        );
        assert_eq!(
            listing(&caller(Resident, None, &[]), &READ, ""),
            Listing::Denied
        );
        assert_eq!(
            listing(&caller(TechSupport, None, &[]), &READ, ""),
            Listing::Denied
        );
    }

    #[test]
    fn open_methods_are_the_public_rules_and_infrastructure() {
        assert!(POLICY.is_open_method("/t.v1.T/List"));
        assert!(POLICY.is_open_method("/grpc.health.v1.Health/Check"));
        assert!(!POLICY.is_open_method("/t.v1.T/Get"));
        assert!(!POLICY.is_open_method("/t.v1.T/SomethingNew"));
        assert_eq!(POLICY.rule_of_method("/t.v1.T/Create"), Some(&CREATE));
        POLICY.check().unwrap();
    }

    #[test]
    fn a_table_that_contradicts_itself_is_refused() {
        const TWICE: Policy = Policy {
            service: "t.v1.T",
            rules: &[&READ, &READ],
        };
        assert!(TWICE.check().unwrap_err().contains("twice"));
        const FOREIGN: Policy = Policy {
            service: "t.v1.Other",
            rules: &[&READ],
        };
        assert!(FOREIGN.check().unwrap_err().contains("not a method"));
    }

    #[test]
    fn the_markdown_has_a_row_per_action_and_a_column_per_role() {
        let md = POLICY.markdown();
        assert_eq!(md.lines().count(), 2 + 3);
        let read = md.lines().find(|l| l.contains("`read_thing`")).unwrap();
        assert!(read.contains("| 404 |"), "{read}");
        assert!(read.contains("own center"), "{read}");
        assert!(read.contains("granted centers"), "{read}");
        let readme = "intro\n<!-- policy:begin -->\nold\n<!-- policy:end -->\nrest\n";
        let new = POLICY.render_into(readme).unwrap();
        assert!(new.starts_with("intro\n<!-- policy:begin -->\n| action"));
        assert!(new.ends_with("<!-- policy:end -->\nrest\n"));
        assert!(!new.contains("old"));
        assert_eq!(POLICY.render_into("no markers"), None);
    }
}
