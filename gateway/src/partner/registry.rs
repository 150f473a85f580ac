//! The partner registry: which agencies exist, which partner API methods
//! each may call and which centers it may touch. Data, in a JSON file
//! (`PARTNER_REGISTRY`), read at start; onboarding a partner is adding an
//! entry and restarting the gateway (gateway/README.md "Partner agencies").

use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;

/// Partner API methods, by their gRPC method name.
pub const METHODS: [&str; 2] = ["GetApplicationStatus", "SubmitReferral"];

/// One partner agency.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Partner {
    /// Stable id; its client certificate names it as a DNS subject
    /// alternative name, and its principal is `partner:<id>`.
    pub id: String,
    /// Who it is, for people (e.g. 区民政局).
    pub name: String,
    /// Methods of [`METHODS`] it may call.
    pub methods: Vec<String>,
    /// Center ids it may read and refer to.
    pub centers: Vec<String>,
}

impl Partner {
    pub fn may_call(&self, method: &str) -> bool {
        self.methods.iter().any(|m| m == method)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default, rename = "_comment")]
    _comment: Option<String>,
    partners: Vec<Partner>,
}

/// Partners by id.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    partners: HashMap<String, Partner>,
}

/// Partner ids are what a certificate names: lowercase DNS-style labels.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 63
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && !id.starts_with(['-', '.'])
        && !id.ends_with(['-', '.'])
}

impl Registry {
    /// Parses and checks a registry document; every problem is reported
    /// together. Pure.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let file: File = serde_json::from_str(text)?;
        let mut problems = Vec::new();
        let mut partners = HashMap::new();
        for p in file.partners {
            if !valid_id(&p.id) {
                problems.push(format!(
                    "partner id {:?}: lowercase letters, digits, '-' and '.' only",
                    p.id
                ));
            }
            for m in &p.methods {
                if !METHODS.contains(&m.as_str()) {
                    problems.push(format!(
                        "partner {}: unknown method {m:?} (known: {})",
                        p.id,
                        METHODS.join(", ")
                    ));
                }
            }
            if p.centers.iter().any(|c| c.trim().is_empty()) {
                problems.push(format!("partner {}: empty center id", p.id));
            }
            if let Some(dup) = partners.insert(p.id.clone(), p) {
                problems.push(format!("partner {} is listed twice", dup.id));
            }
        }
        anyhow::ensure!(problems.is_empty(), "{}", problems.join("; "));
        Ok(Self { partners })
    }

    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("PARTNER_REGISTRY {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| anyhow::anyhow!("PARTNER_REGISTRY {}: {e}", path.display()))
    }

    pub fn get(&self, id: &str) -> Option<&Partner> {
        self.partners.get(id)
    }

    pub fn len(&self) -> usize {
        self.partners.len()
    }

    pub fn is_empty(&self) -> bool {
        self.partners.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registry_names_methods_and_centers() {
        let r = Registry::parse(
            r#"{"partners": [{"id": "civil-affairs", "name": "区民政局",
                "methods": ["GetApplicationStatus"], "centers": ["C01"]}]}"#,
        )
        .unwrap();
        let p = r.get("civil-affairs").unwrap();
        assert!(p.may_call("GetApplicationStatus"));
        assert!(!p.may_call("SubmitReferral"));
        assert_eq!(p.centers, ["C01"]);
        assert!(r.get("someone-else").is_none());
    }

    #[test]
    fn every_mistake_is_reported_at_once() {
        let err = Registry::parse(
            r#"{"partners": [
                {"id": "Bad Id", "name": "x", "methods": ["DeleteEverything"], "centers": [""]},
                {"id": "a", "name": "x", "methods": [], "centers": []},
                {"id": "a", "name": "y", "methods": [], "centers": []}]}"#,
        )
        .unwrap_err()
        .to_string();
        for part in ["Bad Id", "DeleteEverything", "empty center", "listed twice"] {
            assert!(err.contains(part), "{err}");
        }
        assert!(Registry::parse(r#"{"partners": [], "extra": 1}"#).is_err());
    }
}
