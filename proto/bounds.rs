// The bounds of the fields a caller sends, as the OpenAPI document states
// them (`maxLength`, `maxItems`): `build.rs` writes each into the field's
// schema, and each service's tests hold its own entries equal to the
// limits its domain enforces, so the document and the answers cannot
// drift. Fields not listed here are bounded by the gateway's edge limits
// (2,000 characters, 100 items), which the document states too.
//
// Included by build.rs and by src/lib.rs (`bianmin_proto::bounds`).

/// (field, most characters)
pub const MAX_LENGTH: &[(&str, usize)] = &[
    // review: domain/input.rs (REASON_CHARS 500, TEXT_CHARS 2000, ITEM_CHARS 100)
    (".bianmin.review.v1.Accept.reason", 500),
    (".bianmin.review.v1.RequestSupplement.reason", 500),
    (".bianmin.review.v1.Resume.reason", 500),
    (".bianmin.review.v1.Extend.reason", 500),
    (".bianmin.review.v1.StartJointReview.reason", 500),
    (".bianmin.review.v1.SignOffJoint.department", 100),
    (".bianmin.review.v1.SignOffJoint.reason_text", 500),
    (".bianmin.review.v1.Decide.reason_text", 500),
    (".bianmin.review.v1.ServicePlan.content", 2000),
    (".bianmin.review.v1.ServicePlan.schedule", 2000),
    (".bianmin.review.v1.PlannedTask.id", 100),
    (".bianmin.review.v1.PlannedTask.title", 100),
    (".bianmin.review.v1.PlannedTask.assignee", 100),
    (".bianmin.review.v1.CompleteTask.task_id", 100),
    (".bianmin.review.v1.CompleteTask.content", 2000),
    (".bianmin.review.v1.CompleteTask.result", 2000),
    (".bianmin.review.v1.CompleteTask.resident_feedback", 500),
    (".bianmin.review.v1.RecordFeedback.task_id", 100),
    (".bianmin.review.v1.RecordFeedback.resident_feedback", 500),
    (".bianmin.review.v1.CheckAcceptance.notes", 500),
    (".bianmin.review.v1.Close.results", 2000),
    (".bianmin.review.v1.Close.problems", 2000),
    (".bianmin.review.v1.Close.improvements", 2000),
    (".bianmin.review.v1.Assign.assignee", 100),
    (".bianmin.review.v1.Assign.reason", 500),
    // intake: domain/submission.rs, domain/answers.rs, domain/catalog.rs
    (".bianmin.intake.v1.Applicant.name", 50),
    (".bianmin.intake.v1.SubmitApplicationRequest.reason", 1000),
    (".bianmin.intake.v1.SubmitApplicationRequest.urgent_reason", 200),
    (".bianmin.intake.v1.SupplementApplicationRequest.note", 500),
    (".bianmin.intake.v1.WithdrawApplicationRequest.reason", 500),
    (".bianmin.intake.v1.CatalogChecklistItem.name", 50),
    // complaint: domain/input.rs (NAME_CHARS 50, CONTENT_CHARS 2000,
    // DEMAND_CHARS 1000, REASON_CHARS 500, ID_CHARS 64)
    (".bianmin.complaint.v1.Complainant.name", 50),
    (".bianmin.complaint.v1.Complainant.id_number", 64),
    (".bianmin.complaint.v1.Complainant.phone", 64),
    (".bianmin.complaint.v1.Party.id", 64),
    (".bianmin.complaint.v1.FileComplaintRequest.content", 2000),
    (".bianmin.complaint.v1.FileComplaintRequest.demand", 1000),
    (".bianmin.complaint.v1.HandOverComplaintRequest.to", 64),
    (".bianmin.complaint.v1.HandOverComplaintRequest.reason", 500),
    (".bianmin.complaint.v1.RecordFindingRequest.cause", 2000),
    (".bianmin.complaint.v1.AnswerComplaintRequest.answer", 2000),
];

/// (field, most items)
pub const MAX_ITEMS: &[(&str, usize)] = &[
    // review: domain/input.rs (ITEMS 50)
    (".bianmin.review.v1.RequestSupplement.missing_items", 50),
    (".bianmin.review.v1.Resume.received_items", 50),
    (".bianmin.review.v1.StartJointReview.departments", 50),
    (".bianmin.review.v1.SignOffJoint.reason_codes", 50),
    (".bianmin.review.v1.Decide.reason_codes", 50),
    (".bianmin.review.v1.ServicePlan.staff", 50),
    (".bianmin.review.v1.ServicePlan.resources", 50),
    (".bianmin.review.v1.ServicePlan.tasks", 50),
    (".bianmin.review.v1.CheckAcceptance.reopen_task_ids", 50),
    // intake
    (".bianmin.intake.v1.SubmitApplicationRequest.departments", 8),
    (".bianmin.intake.v1.SupplementApplicationRequest.supplied_items", 50),
    // complaint: domain/input.rs (MAX_INVESTIGATORS 10)
    (".bianmin.complaint.v1.AssignInvestigatorsRequest.investigators", 10),
];
