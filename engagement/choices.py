"""Enumerations shared across apps (kept free of model imports to avoid import cycles)."""

from django.db import models


class EngagementType(models.TextChoices):
    MEETING_1_1 = "meeting_1_1", "1:1 meeting"
    ASYNC_VIDEO_1_1 = "async_video_1_1", "Async video 1:1"
    ASYNC_VIDEO_1_MANY = "async_video_1_many", "Async video 1:many"
    BROADCAST_VIDEO = "broadcast_video", "Broadcast or recorded video"
    CHAT = "chat", "Chat"
    EMAIL = "email", "Email"
    CALL = "call", "Call"
    EVENT = "event", "Event"


ONE_TO_MANY_TYPES = frozenset(
    {EngagementType.ASYNC_VIDEO_1_MANY, EngagementType.BROADCAST_VIDEO, EngagementType.EVENT}
)


class Channel(models.TextChoices):
    IN_PERSON = "in_person", "In person"
    VIDEO = "video", "Video"
    PHONE = "phone", "Phone"
    EMAIL = "email", "Email"
    CHAT = "chat", "Chat"
    COMMUNITY = "community", "Community"
    IN_APP = "in_app", "In the product"
