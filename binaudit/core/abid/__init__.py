"""Qt-free reading of the Amazon Bin Image Dataset layout (being split into modules by concern)."""

from binaudit.core.abid.metadata import *  # noqa: F401,F403
