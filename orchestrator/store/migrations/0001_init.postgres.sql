-- The PostgreSQL schema, table for table the SQLite one (0001-0003 there). Times stay ISO 8601
-- text (`2024-01-01T00:00:00.000Z`) as in SQLite, so both order and compare them alike.
CREATE TABLE clients (
    id          TEXT PRIMARY KEY,
    name        TEXT UNIQUE,
    bot_id      TEXT,
    created_on  TEXT NOT NULL
);
CREATE TABLE client_tokens (
    id          TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    digest      TEXT NOT NULL
);
CREATE TABLE channel_configs (
    client_id   TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    channel     TEXT NOT NULL,
    version     TEXT NOT NULL,
    config      TEXT NOT NULL,
    PRIMARY KEY (client_id, channel)
);
CREATE TABLE webhooks (
    id          TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    url         TEXT NOT NULL,
    token       TEXT NOT NULL,
    events      TEXT
);
CREATE INDEX webhooks_client ON webhooks(client_id, position);

CREATE TABLE users (
    id          TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    data        TEXT
);
CREATE TABLE user_tokens (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    digest      TEXT NOT NULL
);
CREATE TABLE conversations (
    seq             BIGSERIAL UNIQUE,
    id              TEXT PRIMARY KEY,
    client_id       TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_on      TEXT NOT NULL,
    last_message_on TEXT
);
CREATE INDEX conversations_user ON conversations(user_id, last_message_on, created_on);
CREATE INDEX conversations_client ON conversations(client_id);
CREATE TABLE messages (
    seq             BIGSERIAL PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    author_id       TEXT,
    sent_on         TEXT NOT NULL,
    payload         TEXT NOT NULL,
    incoming_id     TEXT
);
CREATE INDEX messages_conversation ON messages(conversation_id, sent_on, seq);

CREATE TABLE endpoint_users (
    client_id   TEXT NOT NULL,
    channel     TEXT NOT NULL,
    identity    TEXT NOT NULL,
    sender      TEXT NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (client_id, channel, identity, sender)
);
CREATE TABLE endpoints (
    seq             BIGSERIAL UNIQUE,
    client_id       TEXT NOT NULL,
    channel         TEXT NOT NULL,
    channel_version TEXT,
    identity        TEXT NOT NULL,
    sender          TEXT NOT NULL,
    thread          TEXT NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    PRIMARY KEY (client_id, channel, identity, sender, thread)
);
CREATE INDEX endpoints_conversation ON endpoints(conversation_id);

CREATE TABLE outbox (
    seq             BIGSERIAL PRIMARY KEY,
    client_id       TEXT NOT NULL,
    webhook_id      TEXT NOT NULL,
    ordering_key    TEXT NOT NULL,
    body            TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at DOUBLE PRECISION NOT NULL,
    last_error      TEXT
);
CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
CREATE INDEX outbox_order ON outbox(ordering_key, status, seq);
CREATE INDEX outbox_client ON outbox(client_id, status);
CREATE INDEX outbox_webhook ON outbox(webhook_id, seq);

CREATE TABLE health_events (
    seq         BIGSERIAL PRIMARY KEY,
    client_id   TEXT NOT NULL,
    channel     TEXT NOT NULL,
    type        TEXT NOT NULL,
    time        TEXT NOT NULL,
    data        TEXT
);
CREATE INDEX health_client ON health_events(client_id, channel, seq);

CREATE TABLE bot_states (
    conversation_id TEXT PRIMARY KEY REFERENCES conversations(id) ON DELETE CASCADE,
    bot_id          TEXT NOT NULL,
    state           TEXT
);
CREATE TABLE bot_user_vars (
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    bot_id      TEXT NOT NULL,
    vars        TEXT NOT NULL,
    PRIMARY KEY (user_id, bot_id)
);
CREATE TABLE timers (
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    timer_id        TEXT NOT NULL,
    due             TEXT NOT NULL,
    data            TEXT NOT NULL,
    PRIMARY KEY (conversation_id, timer_id)
);
CREATE INDEX timers_due ON timers(due);
CREATE TABLE turn_traces (
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    turn            INTEGER NOT NULL,
    trace           TEXT NOT NULL,
    PRIMARY KEY (conversation_id, turn)
);

CREATE TABLE inbound_seen (
    client_id   TEXT NOT NULL,
    channel     TEXT NOT NULL,
    platform_id TEXT NOT NULL,
    seen_at     DOUBLE PRECISION NOT NULL DEFAULT 0,
    PRIMARY KEY (client_id, channel, platform_id)
);
CREATE INDEX inbound_seen_age ON inbound_seen(seen_at);
CREATE TABLE kv (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_at  DOUBLE PRECISION NOT NULL DEFAULT 0
);
CREATE INDEX kv_age ON kv(updated_at);

-- Keep conversations.last_message_on current inside the INSERT itself.
CREATE FUNCTION messages_touch_conversation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE conversations SET last_message_on = NEW.sent_on WHERE id = NEW.conversation_id;
    RETURN NEW;
END;
$$;
CREATE TRIGGER messages_touch_conversation AFTER INSERT ON messages
    FOR EACH ROW EXECUTE FUNCTION messages_touch_conversation();
