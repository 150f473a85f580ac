-- Wrong guesses at the public progress page, per application number: after
-- a few, the number answers "not found" to everyone for a while, so its
-- four phone digits cannot be guessed by trying them all.
CREATE TABLE public_lookup_guesses (
    application_no TEXT PRIMARY KEY,
    failures INT NOT NULL,
    window_started TIMESTAMPTZ NOT NULL,
    locked_until TIMESTAMPTZ
);
