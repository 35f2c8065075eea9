//! The kinds of trigger: one enum for the definition, the catalog, templates and the runtime.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The four ways a workflow starts (`trigger.type`; also stored in the catalog).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TriggerKind {
    Endpoint,
    Schedule,
    OAuth,
    Poll,
}

impl TriggerKind {
    /// Every kind, in the order the docs list them.
    pub const ALL: [TriggerKind; 4] = [
        TriggerKind::Endpoint,
        TriggerKind::Schedule,
        TriggerKind::OAuth,
        TriggerKind::Poll,
    ];

    /// As written in `trigger.type`.
    pub fn as_str(self) -> &'static str {
        match self {
            TriggerKind::Endpoint => "endpoint",
            TriggerKind::Schedule => "schedule",
            TriggerKind::OAuth => "oauth",
            TriggerKind::Poll => "poll",
        }
    }

    /// The kind named `text`, if it is one.
    pub fn parse(text: &str) -> Option<TriggerKind> {
        TriggerKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

impl fmt::Display for TriggerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
