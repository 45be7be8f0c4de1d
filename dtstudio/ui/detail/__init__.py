"""The instance detail pane: overview, payloads, failure, history table and timeline of one instance.

Embed :class:`InstanceDetailView`; give it an async client with :meth:`~InstanceDetailView.set_client`
and call :meth:`~InstanceDetailView.show_instance`. It emits
:attr:`~InstanceDetailView.open_instance_requested` when the user opens a child or the parent.
"""

from .detail_view import InstanceDetailView
from .gantt import GanttChart

__all__ = ["GanttChart", "InstanceDetailView"]
