"""Skills (job types): model factory, data, loss, evaluation and defaults per task."""

from agents.learning.skills.registry import SKILLS, Skill, get_skill, initial_state, load_model

__all__ = ["SKILLS", "Skill", "get_skill", "initial_state", "load_model"]
