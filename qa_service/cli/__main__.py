"""``python -m qa_service.cli`` = ``qa-service``."""

from qa_service.cli import main

main()
