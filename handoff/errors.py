"""Errors that services raise for the web and the admin to show. Messages are constants so
that tests can import them."""


class HandoffError(Exception):
    """A request that cannot be carried out as asked; nothing was changed."""


class TransitionRefused(HandoffError):
    """The object is not in a state that allows this change, or a guard failed."""


class TransitionConflict(HandoffError):
    """Someone else changed the object first. The web answers 409."""


class PermissionRefused(HandoffError):
    """The actor may not do this to this object."""


CONFLICT_MESSAGE = "Someone else changed this lead a moment ago. Reload it and try again."
