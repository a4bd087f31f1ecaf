"""What the agent panel shows before the coach has said anything."""

GREETING = (
    "Hi, I'm coachbot. Tell me what's on your mind — a conversation you're preparing for, "
    "a goal, or something that's been hard this week — and we'll work through it together."
)

SUGGESTED_PROMPTS_TITLE = "Some places to start"

SUGGESTED_PROMPTS = [
    {
        "title": "Prepare a hard conversation",
        "message": "Help me prepare for a difficult conversation with a colleague.",
    },
    {"title": "Set a goal", "message": "Help me turn a vague goal into a concrete plan for the next month."},
    {"title": "Reflect on my week", "message": "Ask me a few questions to reflect on how my week went."},
]
