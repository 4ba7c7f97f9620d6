"""Guard against PySide6 6.12.0's None refcount bug.

On CPython 3.11 PySide6 6.12.0 drops a reference to ``None`` on every QPainter
call that returns nothing; after a few thousand paints the interpreter aborts
with "Fatal Python error: none_dealloc". pyproject pins PySide6 below 6.12 on
3.11; this test fails if an upgrade brings the bug back. (From 3.12 on None is
immortal and its refcount is a constant, so the check still holds.)
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QLineF, QPointF
from PySide6.QtGui import QColor, QImage, QPainter, QPen


def test_void_qpainter_calls_keep_none_refcount(qapp):
    image = QImage(200, 200, QImage.Format.Format_ARGB32)
    image.fill(QColor("black"))
    before = sys.getrefcount(None)
    painter = QPainter(image)
    try:
        for i in range(3000):
            painter.setPen(QPen(QColor("red")))  # void call
            painter.drawLine(QLineF(QPointF(0, i % 200), QPointF(199, (i * 7) % 200)))
            painter.drawPoint(QPointF(i % 200, 5))
    finally:
        painter.end()
    after = sys.getrefcount(None)
    # A little jitter from unrelated allocations is fine; 9,000 void calls each
    # losing a reference is not.
    assert after >= before - 50, f"None refcount fell by {before - after} over 9,000 QPainter calls"
