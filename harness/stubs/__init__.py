"""Local stand-ins for the two external services of system A: Rekognition and Slack.

Both are real HTTP servers on 127.0.0.1 (see ``docs/architecture.md``, "Stubs"):
``rekognition.py`` speaks DetectLabels over AWS JSON 1.1 so an unmodified boto3 client
works, ``slack_sink.py`` captures incoming-webhook posts. ``server.StubServers`` runs
both; ``client`` has the typed control-API clients tests and scenarios use.
"""
