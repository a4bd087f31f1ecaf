"""Interactivity: buttons (block_actions) and modal submissions (view_submission)."""

import re

from slack_bolt.async_app import AsyncApp

from bot.checkins.messages import ACTIONS as CHECKIN_ACTIONS
from bot.erase.blocks import CONFIRM_VIEW as DATA_DELETE_VIEW
from bot.erase.blocks import DELETE_ACTION as DATA_DELETE_ACTION
from bot.export.service import EXPORT_ACTION
from bot.feedback.blocks import FEEDBACK_ACTION, NOTE_SEND_ACTION
from bot.home.settings_blocks import TOGGLE_ACTIONS
from bot.memory.blocks import COMMITMENT_DONE_ACTION, DELETE_ACTION, EDIT_ACTION, EDIT_VIEW, WRAP_UP_ACTION
from bot.operations.metrics import timed
from handlers.actions.checkin_answer import handle_checkin_answer
from handlers.actions.coach_admin import handle_coach_admin_choice
from handlers.actions.commitment_done import handle_commitment_done
from handlers.actions.data_delete import handle_data_delete
from handlers.actions.data_delete_confirmed import handle_data_delete_confirmed
from handlers.actions.data_export import handle_data_export
from handlers.actions.feedback_note import handle_feedback_note
from handlers.actions.home_setting import handle_home_setting
from handlers.actions.memory_delete import handle_memory_delete
from handlers.actions.memory_edit import handle_memory_edit, handle_memory_edit_submitted
from handlers.actions.reply_feedback import handle_reply_feedback
from handlers.actions.wrap_up import handle_wrap_up


def register(app: AsyncApp) -> None:
    app.action(WRAP_UP_ACTION)(timed(handle_wrap_up))
    app.action(COMMITMENT_DONE_ACTION)(timed(handle_commitment_done))
    app.action(EDIT_ACTION)(timed(handle_memory_edit))
    app.action(DELETE_ACTION)(timed(handle_memory_delete))
    app.view(EDIT_VIEW)(timed(handle_memory_edit_submitted))
    app.action(re.compile(r"^coach_admin_"))(timed(handle_coach_admin_choice))
    app.action(EXPORT_ACTION)(timed(handle_data_export))
    for action_id in TOGGLE_ACTIONS:
        app.action(action_id)(timed(handle_home_setting))
    app.action(FEEDBACK_ACTION)(timed(handle_reply_feedback))
    app.action(NOTE_SEND_ACTION)(timed(handle_feedback_note))
    app.action(DATA_DELETE_ACTION)(timed(handle_data_delete))
    app.view(DATA_DELETE_VIEW)(timed(handle_data_delete_confirmed))
    for action_id in CHECKIN_ACTIONS:
        app.action(action_id)(timed(handle_checkin_answer))
