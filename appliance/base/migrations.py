"""Named schema migrations, applied in order and recorded in ``migrations``.

Each migration is a function taking the database; its name is recorded once
it has run, inside the same transaction, so a half-applied migration never
counts as done. SQL stays portable (SQLite and PostgreSQL).
"""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

MIGRATIONS = []


def migration(fn):
    MIGRATIONS.append(fn)
    return fn


@migration
def m001_initial(db):
    for sql in (
        """CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )""",
        """CREATE TABLE trunks (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL CHECK (kind IN ('sip', 'e1', 'fxo')),
            host TEXT,
            port INTEGER,
            enabled INTEGER NOT NULL DEFAULT 1
        )""",
        """CREATE TABLE groups (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            title TEXT NOT NULL,
            strategy TEXT NOT NULL DEFAULT 'rrmemory',
            ring_timeout INTEGER NOT NULL DEFAULT 15,
            is_default INTEGER NOT NULL DEFAULT 0
        )""",
        """CREATE TABLE operators (
            id INTEGER PRIMARY KEY,
            extension TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            sip_secret TEXT NOT NULL,
            contact TEXT,
            enabled INTEGER NOT NULL DEFAULT 1
        )""",
        """CREATE TABLE group_members (
            group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
            operator_id INTEGER NOT NULL REFERENCES operators(id) ON DELETE CASCADE,
            penalty INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (group_id, operator_id)
        )""",
        """CREATE TABLE calls (
            id INTEGER PRIMARY KEY,
            uniqueid TEXT NOT NULL UNIQUE,
            linkedid TEXT,
            direction TEXT NOT NULL DEFAULT 'inbound',
            ani TEXT,
            dnis TEXT,
            trunk TEXT,
            grp TEXT,
            route_source TEXT,
            operator TEXT,
            started_at TEXT NOT NULL,
            answered_at TEXT,
            connected_at TEXT,
            ended_at TEXT,
            outcome TEXT,
            hangup_cause INTEGER
        )""",
        "CREATE INDEX calls_started_at ON calls (started_at)",
    ):
        db.execute(sql)


@migration
def m002_panel_users_audit_spans(db):
    for sql in (
        """CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            username TEXT NOT NULL UNIQUE,
            password_hash TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('admin', 'supervisor', 'operator', 'technician')),
            language TEXT NOT NULL DEFAULT 'ru',
            operator_id INTEGER REFERENCES operators(id) ON DELETE SET NULL,
            active INTEGER NOT NULL DEFAULT 1,
            failed_logins INTEGER NOT NULL DEFAULT 0,
            locked_until TEXT,
            created_at TEXT NOT NULL
        )""",
        """CREATE TABLE api_tokens (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            last_used_at TEXT
        )""",
        """CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            username TEXT,
            action TEXT NOT NULL,
            target TEXT,
            details TEXT
        )""",
        "CREATE INDEX audit_at ON audit (at)",
        """CREATE TABLE spans (
            id INTEGER PRIMARY KEY,
            span INTEGER NOT NULL UNIQUE,
            name TEXT NOT NULL,
            framing TEXT NOT NULL,
            coding TEXT NOT NULL,
            crc4 INTEGER NOT NULL,
            signalling TEXT NOT NULL,
            switchtype TEXT,
            mfcr2_variant TEXT,
            mfcr2_max_ani INTEGER,
            mfcr2_max_dnis INTEGER,
            timing INTEGER NOT NULL DEFAULT 1,
            channels TEXT NOT NULL DEFAULT '1-15,17-31',
            enabled INTEGER NOT NULL DEFAULT 1
        )""",
    ):
        db.execute(sql)


@migration
def m003_scenarios(db):
    for sql in (
        """CREATE TABLE scenarios (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            title TEXT NOT NULL,
            draft TEXT NOT NULL,
            created_at TEXT NOT NULL
        )""",
        """CREATE TABLE scenario_versions (
            id INTEGER PRIMARY KEY,
            scenario_id INTEGER NOT NULL REFERENCES scenarios(id) ON DELETE CASCADE,
            version INTEGER NOT NULL,
            graph TEXT NOT NULL,
            published_at TEXT NOT NULL,
            published_by TEXT,
            UNIQUE (scenario_id, version)
        )""",
        """CREATE TABLE scenario_bindings (
            id INTEGER PRIMARY KEY,
            dnis TEXT NOT NULL,
            scenario_id INTEGER REFERENCES scenarios(id) ON DELETE CASCADE,
            grp TEXT,
            priority INTEGER NOT NULL DEFAULT 0
        )""",
        """CREATE TABLE call_steps (
            id INTEGER PRIMARY KEY,
            uniqueid TEXT NOT NULL,
            seq INTEGER NOT NULL,
            step TEXT NOT NULL
        )""",
        "CREATE INDEX call_steps_uniqueid ON call_steps (uniqueid)",
    ):
        db.execute(sql)


@migration
def m004_data_tables(db):
    for sql in (
        """CREATE TABLE data_tables (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            columns TEXT NOT NULL,
            key_column TEXT NOT NULL,
            imported_at TEXT NOT NULL
        )""",
        """CREATE TABLE data_rows (
            table_id INTEGER NOT NULL REFERENCES data_tables(id) ON DELETE CASCADE,
            key TEXT NOT NULL,
            data TEXT NOT NULL,
            PRIMARY KEY (table_id, key)
        )""",
    ):
        db.execute(sql)


@migration
def m005_prompt_library(db):
    # One row per language variant of a prompt made in the panel or the CLI;
    # the WAV itself lives in <sounds>/<language>/<name>.wav.
    db.execute("""CREATE TABLE prompts (
        name TEXT NOT NULL,
        language TEXT NOT NULL,
        source TEXT NOT NULL CHECK (source IN ('upload', 'tts')),
        text TEXT,
        original TEXT,
        duration REAL NOT NULL,
        created_by TEXT,
        created_at TEXT NOT NULL,
        PRIMARY KEY (name, language)
    )""")


@migration
def m006_messages_callbacks(db):
    # Voice messages left in the IVR (F2; the WAV is <instance>/messages/<file>)
    # and callback orders (F3; the ACD places them later).
    for sql in (
        """CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            grp TEXT NOT NULL,
            ani TEXT NOT NULL DEFAULT '',
            uniqueid TEXT NOT NULL DEFAULT '',
            file TEXT NOT NULL,
            duration REAL NOT NULL,
            created_at TEXT NOT NULL,
            handled_at TEXT,
            handled_by TEXT
        )""",
        "CREATE INDEX messages_created_at ON messages (created_at)",
        """CREATE TABLE callbacks (
            id INTEGER PRIMARY KEY,
            grp TEXT NOT NULL,
            number TEXT NOT NULL,
            ani TEXT NOT NULL DEFAULT '',
            asap INTEGER NOT NULL DEFAULT 0,
            slot_from TEXT NOT NULL,
            slot_until TEXT,
            status TEXT NOT NULL DEFAULT 'new',
            uniqueid TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            changed_at TEXT,
            changed_by TEXT
        )""",
        "CREATE INDEX callbacks_status ON callbacks (status, slot_from)",
    ):
        db.execute(sql)


@migration
def m007_schedules(db):
    # Working hours, holidays and working-day exceptions (JSON in ``rules``),
    # and number bindings that switch target by schedule (F5).
    db.execute("""CREATE TABLE schedules (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        title TEXT NOT NULL,
        timezone TEXT NOT NULL,
        rules TEXT NOT NULL
    )""")
    db.execute("ALTER TABLE scenario_bindings ADD COLUMN schedule_id INTEGER REFERENCES schedules(id)")
    db.execute("ALTER TABLE scenario_bindings ADD COLUMN else_scenario_id INTEGER "
               "REFERENCES scenarios(id) ON DELETE SET NULL")
    db.execute("ALTER TABLE scenario_bindings ADD COLUMN else_grp TEXT")


@migration
def m008_data_tables_edit(db):
    # Data tables edited in the panel: when a table last changed, and uploads
    # waiting for the admin to confirm their preview (kept for an hour; the
    # file's bytes as base64).
    db.execute("ALTER TABLE data_tables ADD COLUMN updated_at TEXT")
    db.execute("""CREATE TABLE data_uploads (
        token TEXT PRIMARY KEY,
        username TEXT NOT NULL,
        name TEXT NOT NULL,
        key_column TEXT NOT NULL,
        mode TEXT NOT NULL,
        filename TEXT,
        raw TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        created_at TEXT NOT NULL
    )""")


@migration
def m009_acd(db):
    # The ACD (F7, F10): operator states (the truth Asterisk's queue pauses
    # follow), their log with start and end for the reports, pause reasons,
    # and each group's queue settings.
    for sql in (
        """CREATE TABLE operator_states (
            operator_id INTEGER PRIMARY KEY REFERENCES operators(id) ON DELETE CASCADE,
            state TEXT NOT NULL DEFAULT 'ready',
            reason TEXT,
            since TEXT NOT NULL,
            call_id TEXT,
            until TEXT,
            missed INTEGER NOT NULL DEFAULT 0
        )""",
        """CREATE TABLE operator_state_log (
            id INTEGER PRIMARY KEY,
            operator_id INTEGER NOT NULL REFERENCES operators(id) ON DELETE CASCADE,
            state TEXT NOT NULL,
            reason TEXT,
            started_at TEXT NOT NULL,
            ended_at TEXT,
            by TEXT
        )""",
        "CREATE INDEX operator_state_log_open ON operator_state_log (operator_id, ended_at)",
        """CREATE TABLE pause_reasons (
            id INTEGER PRIMARY KEY,
            code INTEGER NOT NULL UNIQUE,
            name TEXT NOT NULL UNIQUE,
            builtin INTEGER NOT NULL DEFAULT 0
        )""",
        "INSERT INTO pause_reasons (code, name, builtin) VALUES (1, 'lunch', 0), "
        "(2, 'training', 0), (3, 'technical break', 0), (9, 'no answer', 1)",
        "ALTER TABLE groups ADD COLUMN wrapup INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE groups ADD COLUMN max_wait INTEGER NOT NULL DEFAULT 600",
        "ALTER TABLE groups ADD COLUMN overflow_kind TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE groups ADD COLUMN overflow_target TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE groups ADD COLUMN announce_position INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE groups ADD COLUMN announce_holdtime INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE groups ADD COLUMN moh TEXT NOT NULL DEFAULT 'default'",
        "ALTER TABLE groups ADD COLUMN noanswer_pause INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE groups ADD COLUMN noanswer_after INTEGER NOT NULL DEFAULT 1",
    ):
        db.execute(sql)



@migration
def m010_clients(db):
    # The CRM: clients, their normalised numbers (one number, one client),
    # admin-defined custom fields, staged CSV imports, each group's external
    # CRM screen-pop URL template and the outgoing webhook queue.
    for sql in (
        """CREATE TABLE clients (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            company TEXT NOT NULL DEFAULT '',
            email TEXT NOT NULL DEFAULT '',
            personal_operator TEXT,
            vip INTEGER NOT NULL DEFAULT 0,
            fields TEXT NOT NULL DEFAULT '{}',
            search TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            created_by TEXT,
            updated_by TEXT
        )""",
        "CREATE INDEX clients_search ON clients (search)",
        """CREATE TABLE client_phones (
            number TEXT PRIMARY KEY,
            client_id INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
            position INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX client_phones_client ON client_phones (client_id)",
        """CREATE TABLE client_fields (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            title TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('text', 'number', 'date', 'choice')),
            choices TEXT NOT NULL DEFAULT '[]',
            required INTEGER NOT NULL DEFAULT 0,
            position INTEGER NOT NULL DEFAULT 0
        )""",
        """CREATE TABLE client_uploads (
            token TEXT PRIMARY KEY,
            username TEXT NOT NULL,
            filename TEXT,
            raw TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            created_at TEXT NOT NULL
        )""",
        """CREATE TABLE crm_screen_pop (
            group_id INTEGER PRIMARY KEY REFERENCES groups(id) ON DELETE CASCADE,
            url_template TEXT NOT NULL
        )""",
        """CREATE TABLE webhook_queue (
            id INTEGER PRIMARY KEY,
            event TEXT NOT NULL,
            payload TEXT NOT NULL,
            created_at TEXT NOT NULL,
            next_at TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL DEFAULT 'pending',
            last_error TEXT,
            sent_at TEXT
        )""",
        "CREATE INDEX webhook_queue_due ON webhook_queue (status, next_at)",
        "CREATE INDEX calls_ani ON calls (ani)",
    ):
        db.execute(sql)


@migration
def m011_desktop(db):
    # The operator's desktop (F8, F9): calls offered to operators' phones
    # (written by the events service, followed by the screen pop), and the
    # session of a call (by linkedid, so it travels with transfers): each
    # author's notes and the card edits made during it.
    for sql in (
        """CREATE TABLE offers (
            id INTEGER PRIMARY KEY,
            uniqueid TEXT NOT NULL UNIQUE,
            linkedid TEXT NOT NULL,
            extension TEXT NOT NULL,
            ani TEXT NOT NULL DEFAULT '',
            grp TEXT NOT NULL DEFAULT '',
            channel TEXT NOT NULL DEFAULT '',
            dest_channel TEXT NOT NULL DEFAULT '',
            at TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'ringing'
        )""",
        "CREATE INDEX offers_extension ON offers (extension, id)",
        "CREATE INDEX offers_linkedid ON offers (linkedid)",
        """CREATE TABLE session_notes (
            id INTEGER PRIMARY KEY,
            linkedid TEXT NOT NULL,
            author TEXT NOT NULL,
            extension TEXT NOT NULL DEFAULT '',
            text TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (linkedid, author)
        )""",
        """CREATE TABLE session_edits (
            id INTEGER PRIMARY KEY,
            linkedid TEXT NOT NULL,
            author TEXT NOT NULL,
            at TEXT NOT NULL,
            what TEXT NOT NULL,
            details TEXT NOT NULL
        )""",
        "CREATE INDEX session_edits_linkedid ON session_edits (linkedid)",
    ):
        db.execute(sql)


@migration
def m012_callback_dialing(db):
    # The callback dialer (F3): each order's counted tries, when it is tried
    # next, who is dialing it now (the lock), and every attempt with its result.
    for sql in (
        "ALTER TABLE callbacks ADD COLUMN tries INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE callbacks ADD COLUMN next_at TEXT",
        "ALTER TABLE callbacks ADD COLUMN locked_by TEXT",
        "ALTER TABLE callbacks ADD COLUMN locked_at TEXT",
        """CREATE TABLE callback_attempts (
            id INTEGER PRIMARY KEY,
            callback_id INTEGER NOT NULL REFERENCES callbacks(id) ON DELETE CASCADE,
            at TEXT NOT NULL,
            operator TEXT NOT NULL,
            result TEXT,
            uniqueid TEXT NOT NULL DEFAULT '',
            ended_at TEXT
        )""",
        "CREATE INDEX callback_attempts_order ON callback_attempts (callback_id)",
        "CREATE INDEX callback_attempts_open ON callback_attempts (result)",
    ):
        db.execute(sql)

@migration
def m013_routing(db):
    # Routing (F7): operators' skills with levels, a group's default skill and
    # how fast a skill call widens to lower levels, how far back "the operator
    # who served this number last" is looked for, and the VIP numbers.
    for sql in (
        """CREATE TABLE operator_skills (
            operator_id INTEGER NOT NULL REFERENCES operators(id) ON DELETE CASCADE,
            skill TEXT NOT NULL,
            level INTEGER NOT NULL CHECK (level BETWEEN 1 AND 10),
            PRIMARY KEY (operator_id, skill)
        )""",
        "CREATE INDEX operator_skills_skill ON operator_skills (skill)",
        "ALTER TABLE groups ADD COLUMN skill TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE groups ADD COLUMN skill_widen INTEGER NOT NULL DEFAULT 20",
        "ALTER TABLE groups ADD COLUMN skill_all INTEGER NOT NULL DEFAULT 60",
        "ALTER TABLE groups ADD COLUMN last_days INTEGER",
        """CREATE TABLE vip_numbers (
            pattern TEXT PRIMARY KEY,
            priority INTEGER NOT NULL DEFAULT 5 CHECK (priority BETWEEN 1 AND 9),
            note TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX calls_ani_started ON calls (ani, started_at)",
    ):
        db.execute(sql)


@migration
def m016_dahdi_lines(db):
    # DAHDI generation (H1, H2): what kind of line a span is, PRI numbering and
    # overlap, MFC/R2 caller category and ANI order, analog ports (FXO lines in
    # `channels`, FXS operator phones in `phones`) and their caller-ID and
    # disconnect detection, echo canceller, the carrier (for timing checks) and
    # an optional dynamic span source (the VM's looped software spans).
    for sql in (
        "ALTER TABLE spans ADD COLUMN line_type TEXT NOT NULL DEFAULT 'e1'",
        "ALTER TABLE spans ADD COLUMN lbo INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE spans ADD COLUMN dchannel INTEGER",
        "ALTER TABLE spans ADD COLUMN carrier TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE spans ADD COLUMN pri_dialplan TEXT NOT NULL DEFAULT 'unknown'",
        "ALTER TABLE spans ADD COLUMN pri_local_dialplan TEXT NOT NULL DEFAULT 'unknown'",
        "ALTER TABLE spans ADD COLUMN overlapdial TEXT NOT NULL DEFAULT 'no'",
        "ALTER TABLE spans ADD COLUMN mfcr2_category TEXT NOT NULL DEFAULT 'national_subscriber'",
        "ALTER TABLE spans ADD COLUMN mfcr2_get_ani_first INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE spans ADD COLUMN phones TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE spans ADD COLUMN cidsignalling TEXT NOT NULL DEFAULT 'v23'",
        "ALTER TABLE spans ADD COLUMN cidstart TEXT NOT NULL DEFAULT 'ring'",
        "ALTER TABLE spans ADD COLUMN busydetect INTEGER NOT NULL DEFAULT 1",
        "ALTER TABLE spans ADD COLUMN polarity_hangup INTEGER NOT NULL DEFAULT 1",
        "ALTER TABLE spans ADD COLUMN echocanceller TEXT NOT NULL DEFAULT 'oslec'",
        "ALTER TABLE spans ADD COLUMN dynamic TEXT NOT NULL DEFAULT ''",
        "UPDATE spans SET dchannel = 16 WHERE signalling LIKE 'pri%'",
    ):
        db.execute(sql)


@migration
def m017_health(db):
    # Hardware health (H3): each sensor's latest reading, its history averaged
    # into fixed buckets (downsampled as it is written), and the alarm log
    # (span alarms, temperature limits, fans, power supply) with raise/clear.
    for sql in (
        """CREATE TABLE sensor_latest (
            sensor TEXT PRIMARY KEY,
            label TEXT NOT NULL,
            kind TEXT NOT NULL,
            unit TEXT NOT NULL DEFAULT '',
            value REAL,
            status TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '',
            at TEXT NOT NULL
        )""",
        """CREATE TABLE sensor_history (
            sensor TEXT NOT NULL,
            bucket INTEGER NOT NULL,
            value REAL NOT NULL,
            samples INTEGER NOT NULL DEFAULT 1,
            PRIMARY KEY (sensor, bucket)
        )""",
        """CREATE TABLE health_alarms (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            kind TEXT NOT NULL,
            severity TEXT NOT NULL,
            message TEXT NOT NULL,
            raised_at TEXT NOT NULL,
            cleared_at TEXT
        )""",
        "CREATE INDEX health_alarms_open ON health_alarms (cleared_at, source, kind)",
    ):
        db.execute(sql)


@migration
def m018_recordings(db):
    # Call recording (F12): one row per recorded file (created when recording
    # starts, completed when it ends; crash recovery indexes orphans), the
    # paused stretches of on-demand recordings, the recording policies (most
    # specific wins: number > group > default; 'callbacks' = the dialer's
    # outbound calls) and the disk guard floors in `settings`.
    for sql in (
        """CREATE TABLE recordings (
            id INTEGER PRIMARY KEY,
            linkedid TEXT NOT NULL DEFAULT '',
            uniqueid TEXT NOT NULL DEFAULT '',
            channel TEXT NOT NULL DEFAULT '',
            path TEXT NOT NULL UNIQUE,
            started_at TEXT NOT NULL,
            ended_at TEXT,
            duration REAL,
            size INTEGER,
            sha256 TEXT,
            channels INTEGER NOT NULL DEFAULT 1,
            operator TEXT NOT NULL DEFAULT '',
            grp TEXT NOT NULL DEFAULT '',
            ani TEXT NOT NULL DEFAULT '',
            dnis TEXT NOT NULL DEFAULT '',
            direction TEXT NOT NULL DEFAULT 'inbound',
            policy TEXT NOT NULL DEFAULT '',
            mode TEXT NOT NULL DEFAULT 'all',
            status TEXT NOT NULL DEFAULT 'recording'
                CHECK (status IN ('recording', 'good', 'broken', 'deleted')),
            problem TEXT NOT NULL DEFAULT '',
            legal_hold INTEGER NOT NULL DEFAULT 0,
            legal_hold_by TEXT NOT NULL DEFAULT '',
            keep_until TEXT,
            deleted_at TEXT,
            delete_reason TEXT
        )""",
        "CREATE INDEX recordings_started ON recordings (started_at)",
        "CREATE INDEX recordings_operator ON recordings (operator, started_at)",
        "CREATE INDEX recordings_grp ON recordings (grp, started_at)",
        "CREATE INDEX recordings_ani ON recordings (ani, started_at)",
        "CREATE INDEX recordings_linkedid ON recordings (linkedid)",
        "CREATE INDEX recordings_status ON recordings (status, keep_until)",
        """CREATE TABLE recording_pauses (
            id INTEGER PRIMARY KEY,
            recording_id INTEGER NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
            paused_at TEXT NOT NULL,
            resumed_at TEXT,
            offset_start REAL,
            offset_end REAL,
            by TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX recording_pauses_rec ON recording_pauses (recording_id)",
        """CREATE TABLE recording_policies (
            id INTEGER PRIMARY KEY,
            scope TEXT NOT NULL CHECK (scope IN ('group', 'number', 'callbacks', 'default')),
            target TEXT NOT NULL DEFAULT '',
            mode TEXT NOT NULL DEFAULT 'all'
                CHECK (mode IN ('all', 'none', 'sampled', 'demand')),
            sample_percent INTEGER NOT NULL DEFAULT 100
                CHECK (sample_percent BETWEEN 0 AND 100),
            two_channel INTEGER NOT NULL DEFAULT 0,
            retention_days INTEGER,
            UNIQUE (scope, target)
        )""",
        "INSERT INTO recording_policies (scope, target, mode) VALUES ('default', '', 'all')",
        "INSERT INTO settings (key, value) VALUES ('recordings.warn_free_percent', '15')",
        "INSERT INTO settings (key, value) VALUES ('recordings.delete_free_percent', '5')",
    ):
        db.execute(sql)


@migration
def m019_call_legs(db):
    # The complete call history (F14): what the reports read off each call
    # once it has ended, and the legs of one call in order (trunk, IVR, queue,
    # each operator offered, talk, holds, transfers, recordings, notes,
    # hang-up). A leg's key is stable for the event or CDR/CEL line it comes
    # from, so applying it twice or catching up after a restart adds nothing.
    for sql in (
        "ALTER TABLE calls ADD COLUMN queued_at TEXT",
        "ALTER TABLE calls ADD COLUMN wait_seconds REAL",
        "ALTER TABLE calls ADD COLUMN talk_seconds REAL",
        "ALTER TABLE calls ADD COLUMN hold_seconds REAL",
        "ALTER TABLE calls ADD COLUMN transfers INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE calls ADD COLUMN hangup_by TEXT",
        "ALTER TABLE calls ADD COLUMN span TEXT",
        "ALTER TABLE calls ADD COLUMN dahdi_channel TEXT",
        "ALTER TABLE calls ADD COLUMN ivr_only INTEGER",
        """CREATE TABLE call_legs (
            id INTEGER PRIMARY KEY,
            linkedid TEXT NOT NULL,
            leg_key TEXT NOT NULL,
            kind TEXT NOT NULL,
            at TEXT NOT NULL,
            ended_at TEXT,
            party TEXT NOT NULL DEFAULT '',
            result TEXT NOT NULL DEFAULT '',
            detail TEXT NOT NULL DEFAULT '{}',
            UNIQUE (linkedid, leg_key)
        )""",
        "CREATE INDEX call_legs_call ON call_legs (linkedid, at)",
        "CREATE INDEX calls_operator_started ON calls (operator, started_at)",
    ):
        db.execute(sql)


@migration
def m020_quality(db):
    # Quality review (F12): evaluation forms in versions (a form that has
    # scores is changed by adding a version, so old scores keep their
    # criteria), their weighted criteria, and the scores given to recordings
    # (operator, group and call time copied so averages outlive the file;
    # points and comments per criterion as JSON keyed by criterion id).
    for sql in (
        """CREATE TABLE quality_forms (
            id INTEGER PRIMARY KEY,
            family INTEGER NOT NULL,
            version INTEGER NOT NULL DEFAULT 1,
            name TEXT NOT NULL,
            active INTEGER NOT NULL DEFAULT 1,
            current INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL DEFAULT ''
        )""",
        """CREATE TABLE quality_criteria (
            id INTEGER PRIMARY KEY,
            form_id INTEGER NOT NULL REFERENCES quality_forms(id),
            position INTEGER NOT NULL,
            name TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            weight REAL NOT NULL CHECK (weight > 0),
            max_points INTEGER NOT NULL CHECK (max_points > 0)
        )""",
        """CREATE TABLE quality_scores (
            id INTEGER PRIMARY KEY,
            recording_id INTEGER NOT NULL REFERENCES recordings(id),
            form_id INTEGER NOT NULL REFERENCES quality_forms(id),
            reviewer TEXT NOT NULL,
            scored_at TEXT NOT NULL,
            operator TEXT NOT NULL DEFAULT '',
            grp TEXT NOT NULL DEFAULT '',
            call_at TEXT NOT NULL,
            total REAL NOT NULL,
            comment TEXT NOT NULL DEFAULT '',
            points TEXT NOT NULL DEFAULT '{}',
            UNIQUE (recording_id, form_id, reviewer)
        )""",
        "CREATE INDEX quality_scores_recording ON quality_scores (recording_id)",
        "CREATE INDEX quality_scores_operator ON quality_scores (operator, call_at)",
        "CREATE INDEX quality_scores_grp ON quality_scores (grp, call_at)",
    ):
        db.execute(sql)


@migration
def m021_reports(db):
    # Statistics and reports (F14): the call rollups the ready reports read
    # (sums per local day and hour, line, operator; recomputed a whole local
    # day at a time from the finished calls, see docs/REPORTS.md), operator
    # state seconds per local day, the days waiting to be recomputed, state
    # log rows still open when the catch-up passed them, and the admin's
    # custom report forms. a0..a11 / b0..b11: answered / abandoned calls per
    # queue-wait bucket (edges in appliance/reports/measures.py).
    sums = """n INTEGER NOT NULL DEFAULT 0,
            answered INTEGER NOT NULL DEFAULT 0,
            abandoned INTEGER NOT NULL DEFAULT 0,
            ivr_only INTEGER NOT NULL DEFAULT 0,
            transferred INTEGER NOT NULL DEFAULT 0,
            transfers INTEGER NOT NULL DEFAULT 0,
            wait_answered REAL NOT NULL DEFAULT 0,
            wait_abandoned REAL NOT NULL DEFAULT 0,
            talk REAL NOT NULL DEFAULT 0,
            hold REAL NOT NULL DEFAULT 0,
            a0 INTEGER NOT NULL DEFAULT 0, b0 INTEGER NOT NULL DEFAULT 0,
            a1 INTEGER NOT NULL DEFAULT 0, b1 INTEGER NOT NULL DEFAULT 0,
            a2 INTEGER NOT NULL DEFAULT 0, b2 INTEGER NOT NULL DEFAULT 0,
            a3 INTEGER NOT NULL DEFAULT 0, b3 INTEGER NOT NULL DEFAULT 0,
            a4 INTEGER NOT NULL DEFAULT 0, b4 INTEGER NOT NULL DEFAULT 0,
            a5 INTEGER NOT NULL DEFAULT 0, b5 INTEGER NOT NULL DEFAULT 0,
            a6 INTEGER NOT NULL DEFAULT 0, b6 INTEGER NOT NULL DEFAULT 0,
            a7 INTEGER NOT NULL DEFAULT 0, b7 INTEGER NOT NULL DEFAULT 0,
            a8 INTEGER NOT NULL DEFAULT 0, b8 INTEGER NOT NULL DEFAULT 0,
            a9 INTEGER NOT NULL DEFAULT 0, b9 INTEGER NOT NULL DEFAULT 0,
            a10 INTEGER NOT NULL DEFAULT 0, b10 INTEGER NOT NULL DEFAULT 0,
            a11 INTEGER NOT NULL DEFAULT 0, b11 INTEGER NOT NULL DEFAULT 0"""
    for sql in (
        f"""CREATE TABLE report_calls_hour (
            day TEXT NOT NULL, hour INTEGER NOT NULL, week TEXT NOT NULL,
            direction TEXT NOT NULL, grp TEXT NOT NULL,
            {sums}
        )""",
        "CREATE INDEX report_calls_hour_day ON report_calls_hour (day)",
        f"""CREATE TABLE report_calls_line (
            day TEXT NOT NULL, week TEXT NOT NULL, direction TEXT NOT NULL, grp TEXT NOT NULL,
            trunk TEXT NOT NULL, span TEXT NOT NULL, dnis TEXT NOT NULL, route_source TEXT NOT NULL,
            {sums}
        )""",
        "CREATE INDEX report_calls_line_day ON report_calls_line (day)",
        f"""CREATE TABLE report_calls_operator (
            day TEXT NOT NULL, week TEXT NOT NULL, direction TEXT NOT NULL, grp TEXT NOT NULL,
            operator TEXT NOT NULL,
            {sums}
        )""",
        "CREATE INDEX report_calls_operator_day ON report_calls_operator (day)",
        """CREATE TABLE report_states (
            day TEXT NOT NULL,
            week TEXT NOT NULL,
            operator TEXT NOT NULL,
            state TEXT NOT NULL,
            reason TEXT NOT NULL,
            seconds REAL NOT NULL,
            PRIMARY KEY (day, operator, state, reason)
        )""",
        "CREATE TABLE report_dirty_days (day TEXT PRIMARY KEY)",
        "CREATE TABLE report_open_states (id INTEGER PRIMARY KEY)",
        """CREATE TABLE report_forms (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            spec TEXT NOT NULL,
            created_by TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        # the open rows only (the reports count them up to now): small
        "CREATE INDEX operator_state_log_ended ON operator_state_log (ended_at) WHERE ended_at IS NULL",
        "CREATE INDEX callbacks_created_at ON callbacks (created_at)",
        "CREATE INDEX callback_attempts_at ON callback_attempts (at)",
    ):
        db.execute(sql)


@migration
def m022_dahdi_loop(db):
    # Real DAHDI calls: a span's role -- "trunk" (the appliance's own
    # line) or "test_carrier" (the far end of a loop-back test, whose channels
    # go to a test context, never to the IVR); an operator's phone device when
    # it is not the IP phone PJSIP/<extension> (an analog FXS port, DAHDI/<n>);
    # the MFC/R2 caller category of an inbound call.
    for sql in (
        "ALTER TABLE spans ADD COLUMN role TEXT NOT NULL DEFAULT 'trunk'",
        "ALTER TABLE operators ADD COLUMN device TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE calls ADD COLUMN caller_category TEXT",
    ):
        db.execute(sql)


@migration
def m023_panel_sessions_tokens_setup(db):
    # Panel sessions kept server-side (the cookie holds a random id, this
    # table its hash) so logout and a password change end them; API tokens
    # with an end (tokens made before live 90 more days); failed logins per
    # client address; the hashed one-time codes for creating the first admin.
    for sql in (
        """CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL
        )""",
        "CREATE INDEX sessions_user ON sessions (user_id)",
        "ALTER TABLE api_tokens ADD COLUMN expires_at TEXT NOT NULL DEFAULT ''",
        """CREATE TABLE login_throttle (
            address TEXT PRIMARY KEY,
            failures INTEGER NOT NULL,
            window_start TEXT NOT NULL
        )""",
        """CREATE TABLE setup_codes (
            source TEXT PRIMARY KEY,
            code_hash TEXT NOT NULL,
            created_at TEXT NOT NULL
        )""",
    ):
        db.execute(sql)
    until = (datetime.now(UTC) + timedelta(days=90)).isoformat(timespec="seconds")
    db.execute("UPDATE api_tokens SET expires_at = ?", [until])


@migration
def m024_sip_guard_secure_phones(db):
    # Addresses the SIP guard banned after repeated failed SIP requests
    # (appliance/operators/sip_guard.py); a ban ends at `until` or when a
    # user lifts it (ended_by), and stays as a record. An operator's
    # "secure phone": SIP over TLS only, media over SRTP.
    for sql in (
        """CREATE TABLE sip_bans (
            id INTEGER PRIMARY KEY,
            address TEXT NOT NULL,
            failures INTEGER NOT NULL,
            events TEXT NOT NULL DEFAULT '',
            accounts TEXT NOT NULL DEFAULT '',
            started_at TEXT NOT NULL,
            until TEXT NOT NULL,
            ended_at TEXT,
            ended_by TEXT
        )""",
        "CREATE INDEX sip_bans_open ON sip_bans (ended_at, address)",
        "ALTER TABLE operators ADD COLUMN secure INTEGER NOT NULL DEFAULT 0",
    ):
        db.execute(sql)


@migration
def m025_outbound_policy(db):
    # The outbound policy (appliance.outbound): one row, national numbers
    # only by default, premium-rate, satellite and Abkhazian codes denied,
    # at most 3 open callback orders per caller number and 5 a day; why the
    # dialer refused an order's number; the caller's orders counted fast.
    # Written to be run again: for a while this migration was named m024_outbound_policy.
    for sql in (
        """CREATE TABLE IF NOT EXISTS outbound_policy (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            scope TEXT NOT NULL DEFAULT 'national',
            allowed TEXT NOT NULL DEFAULT '[]',
            denied TEXT NOT NULL DEFAULT '[]',
            max_open INTEGER NOT NULL DEFAULT 3,
            max_day INTEGER NOT NULL DEFAULT 5,
            own_number_only INTEGER NOT NULL DEFAULT 0,
            changed_at TEXT,
            changed_by TEXT
        )""",
        """INSERT OR IGNORE INTO outbound_policy (id, denied) VALUES
            (1, '["+7801", "+7802", "+7803", "+7809", "+7954", "+7840", "+7940"]')""",
        "CREATE INDEX IF NOT EXISTS callbacks_ani ON callbacks (ani, created_at)",
        "CREATE INDEX IF NOT EXISTS callbacks_open_number ON callbacks (number) WHERE status = 'new'",
    ):
        db.execute(sql)
    if "refused" not in {r[1] for r in db.execute("PRAGMA table_info(callbacks)")}:
        db.execute("ALTER TABLE callbacks ADD COLUMN refused TEXT")
    db.execute("DELETE FROM migrations WHERE name = 'm024_outbound_policy'")


@migration
def m026_rtp_range_for_eight_spans(db):
    # Eight E1 spans are 240 calls, each with a caller's and an operator's
    # stream, each stream an RTP and an RTCP port: the first default range
    # (10000-10999, 500 streams) ran out at full load. An instance still on
    # exactly that range gets 10000-19999; a range someone chose is kept.
    start = db.execute("SELECT value FROM settings WHERE key = 'rtp.start'").fetchone()
    end = db.execute("SELECT value FROM settings WHERE key = 'rtp.end'").fetchone()
    if start and end and (start[0], end[0]) == ("10000", "10999"):
        db.execute("UPDATE settings SET value = '19999' WHERE key = 'rtp.end'")

@migration
def m027_outbound_routes(db):
    # Outbound routes and trunk groups (appliance.outbound.routes), the
    # operators' class of service, and what the call history keeps of a call
    # out. An appliance that dialled out through its SIP trunk before routes
    # existed keeps doing so: each SIP trunk becomes a trunk group and the
    # default routes use them.
    db.execute("""CREATE TABLE IF NOT EXISTS trunk_groups (
        id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, kind TEXT NOT NULL DEFAULT 'sip',
        members TEXT NOT NULL DEFAULT '[]', hunting TEXT NOT NULL DEFAULT 'ascending',
        reserve INTEGER NOT NULL DEFAULT 0, max_calls INTEGER NOT NULL DEFAULT 0,
        number_format TEXT NOT NULL DEFAULT 'as_dialled', strip INTEGER NOT NULL DEFAULT 0,
        prepend TEXT NOT NULL DEFAULT '', pri_ton TEXT NOT NULL DEFAULT '', pri_npi TEXT NOT NULL DEFAULT '',
        caller_id TEXT NOT NULL DEFAULT '', r2_category TEXT NOT NULL DEFAULT '',
        enabled INTEGER NOT NULL DEFAULT 1)""")
    db.execute("""CREATE TABLE IF NOT EXISTS outbound_routes (
        id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, patterns TEXT NOT NULL DEFAULT '[]',
        trunk_groups TEXT NOT NULL DEFAULT '[]', level TEXT NOT NULL DEFAULT 'national',
        caller_id TEXT NOT NULL DEFAULT '', max_calls INTEGER NOT NULL DEFAULT 0,
        enabled INTEGER NOT NULL DEFAULT 1, position INTEGER NOT NULL DEFAULT 0)""")
    if "outbound_class" not in {r[1] for r in db.execute("PRAGMA table_info(operators)")}:
        db.execute("ALTER TABLE operators ADD COLUMN outbound_class TEXT NOT NULL DEFAULT 'national'")
    have = {r[1] for r in db.execute("PRAGMA table_info(calls)")}
    for column, kind in (("out_purpose", "TEXT"), ("out_route", "TEXT"), ("out_trunk_group", "TEXT"),
                         ("out_span", "INTEGER"), ("out_circuit", "INTEGER"), ("out_dialled", "TEXT"),
                         ("out_sent", "TEXT"), ("out_cause", "INTEGER"), ("out_status", "TEXT")):
        if column not in have:
            db.execute(f"ALTER TABLE calls ADD COLUMN {column} {kind}")
    if not db.execute("SELECT 1 FROM trunk_groups LIMIT 1").fetchone():
        names = [r[0] for r in db.execute("SELECT name FROM trunks WHERE kind = 'sip' ORDER BY name")]
        for name in names:
            db.execute("INSERT INTO trunk_groups (name, kind, members) VALUES (?, 'sip', ?)",
                       [name, f'["{name}"]'])
        if names and not db.execute("SELECT 1 FROM outbound_routes LIMIT 1").fetchone():
            # appliance.outbound.routes.DEFAULT_ROUTES as they were when this ran
            defaults = (("emergency", ["112", "10[1-4]", "0[1-4]"], "emergency"),
                        ("local", ["[2-7]XXXX", "[2-7]XXXXX", "[2-7]XXXXXX"], "local"),
                        ("national", ["8[3489]XXXXXXXXX", "+7[3489]XXXXXXXXX", "7[3489]XXXXXXXXX", "[349]XXXXXXXXX",
                             "8[02-9]XXXXXXXX"], "national"),
                        ("international", ["810X.", "00X.", "+[1-689]X.", "+7[0-25-7]X."], "international"))
            for position, (name, patterns, level) in enumerate(defaults, 1):
                db.execute("INSERT INTO outbound_routes (name, patterns, trunk_groups, level, position) "
                           "VALUES (?, ?, ?, ?, ?)", [name, json.dumps(patterns), json.dumps(names), level, position])


def apply(db) -> list[str]:
    """Run every migration not yet recorded; return the names applied."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    done = {row[0] for row in db.execute("SELECT name FROM migrations").fetchall()}
    applied = []
    for fn in MIGRATIONS:
        if fn.__name__ in done:
            continue
        with db.atomic():
            fn(db)
            db.execute(
                "INSERT INTO migrations (name, applied_at) VALUES (?, ?)",
                [fn.__name__, datetime.now(UTC).isoformat(timespec="seconds")],
            )
        applied.append(fn.__name__)
    return applied
