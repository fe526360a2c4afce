-- A conversation's last message time is read from its messages (the index on
-- messages(conversation_id, sent_on, seq) answers it) instead of being kept by a trigger: the
-- trigger's row lock on the conversation made concurrent batches of messages deadlock.
DROP TRIGGER messages_touch_conversation ON messages;
DROP FUNCTION messages_touch_conversation();
ALTER TABLE conversations DROP COLUMN last_message_on;
CREATE INDEX conversations_user_created ON conversations(user_id, created_on);
