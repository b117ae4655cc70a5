"""Locust user for bench/load.py: live sentiment, one short message per request (TASS-like texts)."""

from __future__ import annotations

import os
import random

from locust import HttpUser, between, task

TEXTS = [
    "Me han cobrado dos veces la factura y nadie me responde.", "Muy amable la agente, me lo resolvió todo.",
    "Llevo una semana sin internet, es una vergüenza.", "¿A qué hora abren mañana?",
    "The app keeps crashing when I try to pay.", "Thanks, the refund arrived today!",
    "Sigo esperando el reembolso que me prometieron.", "Todo correcto, gracias por la rapidez.",
]


class HelpdeskUser(HttpUser):
    wait_time = between(0.0, 0.05)

    def on_start(self) -> None:
        self.client.headers["Authorization"] = f"Bearer {os.environ['QA_BENCH_KEY']}"

    @task
    def live_sentiment(self) -> None:
        self.client.post("/v1/sentiment", json={"text": random.choice(TEXTS)}, name="/v1/sentiment")
