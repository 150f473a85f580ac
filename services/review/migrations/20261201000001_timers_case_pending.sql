-- Re-arming deletes a case's pending timers (`case_id = $1 AND fired_at IS
-- NULL`). Before the tables were first analysed (a fresh district, or one
-- that grew fast) the planner answered that with the whole `timers_pending`
-- index, i.e. every pending timer of every case, ANDed with the unique
-- index: 0.7 ms a statement at 17k timers and growing with them. An index
-- with exactly that predicate is the only sensible plan at any size.
CREATE INDEX timers_case_pending ON timers (case_id) WHERE fired_at IS NULL;
