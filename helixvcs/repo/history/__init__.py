"""Looking back: the verbs that compare versions and explain how a metric moved.

``diff``, ``blame`` (``helix blame-metric``), ``bisect``, ``explain``, ``log``, ``plot``
and ``dag``, each returning a report with ``to_json()``; ``drawing`` renders charts and
DAG pictures, ``iterations`` reads (or measures) the recorded versions they walk, and
``reports`` keeps their JSON documents for ``helix ui``.

A history verb may use the feedback room (``log`` lists queued commits and explored
variants, ``diff`` the variants explored from a version) and the modules of one
iteration (``context``, ``records``, ``run``, ``replay``); neither of those imports it.
The ``Repo`` facade (``helixvcs.repo``) calls each verb; the verbs name ``Repo`` only in
annotations.
"""
