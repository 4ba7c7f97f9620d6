"""Candlestick chart with volume, indicators, markers and a crosshair (pyqtgraph)."""

from widgets.chart.chart_widget import ChartPanel, ChartWidget, IndicatorSettings

__all__ = ["ChartPanel", "ChartWidget", "IndicatorSettings"]
