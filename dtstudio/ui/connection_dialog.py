"""Managing saved connections: the embedded emulator, DTS emulators and Azure schedulers."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from dtstudio.core.profiles import BackendKind, ConnectionProfile, CredentialKind, ProfileError, ProfileStore

__all__ = ["ConnectionDialog"]

_KIND_LABELS = {
    BackendKind.EMBEDDED: "Embedded emulator (runs inside dtstudio)",
    BackendKind.EMULATOR: "Durable Task emulator / sidecar (no sign-in)",
    BackendKind.AZURE: "Azure Durable Task Scheduler",
}


class ConnectionDialog(QDialog):
    """Edit profiles (saved without secrets) and connect to one."""

    connect_requested = Signal(str)

    def __init__(self, store: ProfileStore, current: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Connections")
        self.resize(760, 380)
        self.store = store
        self.list = QListWidget(self)
        self.list.setMinimumWidth(230)
        self.name = QLineEdit(self)
        self.kind = QComboBox(self)
        for kind, label in _KIND_LABELS.items():
            self.kind.addItem(label, kind.value)
        self.endpoint = QLineEdit(self)
        self.endpoint.setPlaceholderText("http://localhost:8080 or https://<scheduler>.<region>.durabletask.io")
        self.taskhub = QLineEdit(self)
        self.taskhub.setPlaceholderText("default")
        self.credential = QComboBox(self)
        for cred in CredentialKind:
            self.credential.addItem(cred.label, cred.value)
        self.client_id = QLineEdit(self)
        self.client_id.setPlaceholderText("optional: user-assigned identity's client ID")
        self.note = QLabel(
            "Secrets are never saved: Azure sign-in uses the chosen credential (az login, browser, managed identity) at connect time.",
            self,
        )
        self.note.setWordWrap(True)
        self.error_label = QLabel(self)
        self.error_label.setStyleSheet("color: #d32f2f;")
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Backend", self.kind)
        form.addRow("Endpoint", self.endpoint)
        form.addRow("Task hub", self.taskhub)
        form.addRow("Credential", self.credential)
        form.addRow("Managed identity client ID", self.client_id)
        self.new_button = QPushButton("New", self)
        self.delete_button = QPushButton("Delete", self)
        self.save_button = QPushButton("Save", self)
        left = QVBoxLayout()
        left.addWidget(self.list, 1)
        lb = QHBoxLayout()
        lb.addWidget(self.new_button)
        lb.addWidget(self.delete_button)
        left.addLayout(lb)
        right = QVBoxLayout()
        right.addLayout(form)
        right.addWidget(self.note)
        right.addWidget(self.error_label)
        right.addStretch(1)
        rb = QHBoxLayout()
        rb.addStretch(1)
        rb.addWidget(self.save_button)
        right.addLayout(rb)
        top = QHBoxLayout()
        top.addLayout(left)
        top.addLayout(right, 1)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.connect_button = self.buttons.addButton("Save and connect", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.rejected.connect(self.reject)
        self.buttons.accepted.connect(self._save_and_connect)
        outer = QVBoxLayout(self)
        outer.addLayout(top, 1)
        outer.addWidget(self.buttons)
        self.list.currentTextChanged.connect(self._show_profile)
        self.kind.currentIndexChanged.connect(self._update_enabled)
        self.credential.currentIndexChanged.connect(self._update_enabled)
        self.new_button.clicked.connect(self._new)
        self.delete_button.clicked.connect(self._delete)
        self.save_button.clicked.connect(self.save_current)
        self._editing: str | None = None
        self._reload(current)

    # ------------------------------------------------------------------
    def _reload(self, select: str | None = None) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        for p in self.store.profiles:
            self.list.addItem(p.name)
        self.list.blockSignals(False)
        names = [p.name for p in self.store.profiles]
        row = names.index(select) if select in names else 0
        self.list.setCurrentRow(row)
        self._show_profile(self.list.currentItem().text() if self.list.currentItem() else "")

    def _show_profile(self, name: str) -> None:
        p = self.store.get(name)
        if p is None:
            return
        self._editing = p.name
        self.name.setText(p.name)
        self.credential.blockSignals(True)
        self.credential.setCurrentIndex(self.credential.findData(p.credential.value))
        self.credential.blockSignals(False)
        self.kind.setCurrentIndex(self.kind.findData(p.kind.value))
        self.endpoint.setText(p.endpoint)
        self.taskhub.setText(p.taskhub)
        self.credential.setCurrentIndex(self.credential.findData(p.credential.value))
        self.client_id.setText(p.managed_identity_client_id)
        self.error_label.hide()
        self._update_enabled()

    def _kind(self) -> BackendKind:
        return BackendKind(self.kind.currentData() or BackendKind.EMULATOR.value)

    def _credential(self) -> CredentialKind:
        return CredentialKind(self.credential.currentData() or CredentialKind.NONE.value)

    def _update_enabled(self) -> None:
        kind = self._kind()
        embedded = kind is BackendKind.EMBEDDED
        self.endpoint.setEnabled(not embedded)
        self.credential.setEnabled(kind is BackendKind.AZURE)
        if kind is not BackendKind.AZURE:
            self.credential.setCurrentIndex(self.credential.findData(CredentialKind.NONE.value))
        elif self._credential() is CredentialKind.NONE:
            self.credential.setCurrentIndex(self.credential.findData(CredentialKind.DEFAULT.value))
        self.client_id.setEnabled(kind is BackendKind.AZURE and self._credential() is CredentialKind.MANAGED_IDENTITY)
        self.delete_button.setEnabled(not embedded)
        self.name.setReadOnly(embedded)

    def current_profile(self) -> ConnectionProfile:
        return ConnectionProfile(
            name=self.name.text().strip(),
            kind=self._kind(),
            endpoint=self.endpoint.text().strip(),
            taskhub=self.taskhub.text().strip() or "default",
            credential=self._credential(),
            managed_identity_client_id=self.client_id.text().strip(),
        )

    def save_current(self) -> bool:
        profile = self.current_profile()
        try:
            editing = self.store.get(self._editing) if self._editing else None
            if profile.kind is BackendKind.EMBEDDED and editing is not None and editing.kind is not BackendKind.EMBEDDED:
                raise ProfileError("Only one embedded emulator profile can exist.")
            self.store.upsert(profile, old_name=self._editing)
            self.store.save()
        except (ProfileError, OSError) as exc:
            self.error_label.setText(str(exc))
            self.error_label.show()
            return False
        self._reload(profile.name)
        return True

    def _new(self) -> None:
        base = "New connection"
        name = base
        n = 2
        while self.store.get(name) is not None:
            name = f"{base} {n}"
            n += 1
        self.store.profiles.append(ConnectionProfile(name, BackendKind.EMULATOR, "http://localhost:8080", "default"))
        self._reload(name)
        self.name.setFocus()
        self.name.selectAll()

    def _delete(self) -> None:
        if self._editing is None:
            return
        try:
            self.store.remove(self._editing)
            self.store.save()
        except (ProfileError, OSError) as exc:
            self.error_label.setText(str(exc))
            self.error_label.show()
            return
        self._reload()

    def _save_and_connect(self) -> None:
        if self.save_current():
            self.connect_requested.emit(self.name.text().strip())
            self.accept()

    def keyPressEvent(self, event: object) -> None:
        from PySide6.QtGui import QKeyEvent

        if isinstance(event, QKeyEvent) and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            return  # Enter in a field must not connect by accident
        super().keyPressEvent(event)  # type: ignore[arg-type]
