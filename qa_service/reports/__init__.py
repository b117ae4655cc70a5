"""HTML reports for people: one self-contained page each (data and chart library inline, works offline)."""
