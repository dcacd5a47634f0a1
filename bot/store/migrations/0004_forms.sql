-- Google Forms answers already written into a unit's spreadsheet, or superseded by a later
-- answer of the same unit, so that no answer is ever applied twice. An answer is known by a
-- hash of its row (timestamp and every answer): sorting the response sheet changes nothing,
-- and correcting an answer there makes it a new answer. Answers naming an unknown unit are
-- not recorded: they are reported at every poll until someone corrects them.
CREATE TABLE form_responses (
    form TEXT NOT NULL,            -- the response spreadsheet id
    period TEXT NOT NULL,
    response_key TEXT NOT NULL,
    unit TEXT NOT NULL,
    sheet_row INTEGER NOT NULL,    -- the row it had in the response sheet when processed
    submitted_at TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('applied', 'superseded')),
    fields TEXT NOT NULL DEFAULT '[]',  -- JSON list of the field keys written
    processed_at TEXT NOT NULL,
    PRIMARY KEY (form, period, response_key)
);
CREATE INDEX form_responses_unit ON form_responses (form, period, unit, submitted_at);
