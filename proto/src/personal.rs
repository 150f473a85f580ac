//! `Debug` for the messages that carry personal data in full (an ID
//! number, a phone number, a name; a phone's last digits with the number
//! they unlock): each field prints as its length in characters, never its
//! value, so a `{:?}` anywhere (a log line, an error, a panic, a test's
//! assertion) cannot write a resident's data. `proto/build.rs` lists them
//! (`PERSONAL`) and turns off the derived `Debug`.

use crate::complaint::v1::Complainant;
use crate::intake::v1::{Applicant, PiiFindApplicationsRequest, PublicGetProgressRequest};
use crate::partner::v1::Resident;
use std::fmt;

/// A field as its length only.
struct Withheld<'a>(&'a str);

impl fmt::Debug for Withheld<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} chars withheld>", self.0.chars().count())
    }
}

impl fmt::Debug for Applicant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Applicant")
            .field("name", &Withheld(&self.name))
            .field("id_number", &Withheld(&self.id_number))
            .field("phone", &Withheld(&self.phone))
            .finish()
    }
}

impl fmt::Debug for Complainant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Complainant")
            .field("name", &Withheld(&self.name))
            .field("id_number", &Withheld(&self.id_number))
            .field("phone", &Withheld(&self.phone))
            .finish()
    }
}

impl fmt::Debug for Resident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resident")
            .field("name", &Withheld(&self.name))
            .field("id_number", &Withheld(&self.id_number))
            .field("phone", &Withheld(&self.phone))
            .finish()
    }
}

impl fmt::Debug for PiiFindApplicationsRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PiiFindApplicationsRequest")
            .field("id_number", &Withheld(&self.id_number))
            .finish()
    }
}

impl fmt::Debug for PublicGetProgressRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicGetProgressRequest")
            .field("application_no", &self.application_no)
            .field("phone_last4", &Withheld(&self.phone_last4))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::v1::SubmitApplicationRequest;

    #[test]
    fn personal_data_never_prints() {
        let id = "11010519491231002X";
        let phone = "13812345678";
        let request = SubmitApplicationRequest {
            applicant: Some(Applicant {
                name: "张秀兰".into(),
                id_number: id.into(),
                phone: phone.into(),
            }),
            reason: "独居老人".into(),
            ..Default::default()
        };
        // Nested in a message whose Debug is derived, too.
        let printed = format!("{request:?} {request:#?}");
        for secret in [id, phone, "张秀兰", "1231002X", "5678"] {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
        assert!(printed.contains("<18 chars withheld>"), "{printed}");
        assert!(printed.contains("独居老人"), "other fields still print");
        let resident = Resident {
            name: "李四".into(),
            id_number: id.into(),
            phone: phone.into(),
        };
        let find = PiiFindApplicationsRequest {
            id_number: id.into(),
        };
        let progress = PublicGetProgressRequest {
            application_no: "C01-20261207-000001".into(),
            phone_last4: "5678".into(),
        };
        let printed = format!("{resident:?} {find:?} {progress:?}");
        for secret in [id, phone, "李四", "5678"] {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
        assert!(printed.contains("C01-20261207-000001"));
    }
}
