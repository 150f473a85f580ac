//! A resident's identity as callers send it: the ID card number and the
//! mobile phone number, validated and normalised the same way by every
//! service that takes them (intake's applicants, complaint's
//! complainants). Pure, property-tested over any Unicode.

pub mod id_number;
pub mod phone;
