"""qa_service: self-hosted AI-assisted QA and feedback analysis for customer service."""

__version__ = "0.1.0"
