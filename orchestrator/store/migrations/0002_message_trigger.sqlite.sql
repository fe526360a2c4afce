-- Keep conversations.last_message_on current inside the INSERT itself (no extra round trip).
CREATE TRIGGER messages_touch_conversation AFTER INSERT ON messages
BEGIN
    UPDATE conversations SET last_message_on = NEW.sent_on WHERE id = NEW.conversation_id;
END;
