"""Think time: what helix does for the user between their commands.

``explore`` runs the alternatives a workflow declares for its constants, each as a
variant of one run (``helixvcs.repo.variants``); ``explorer`` keeps one exploration per
work tree and lets other commands stop a background one; ``suggest`` turns the best
explored variants into ``patches``; ``hooks`` installs the post-commit hook, whose
runner works through the ``queue`` of new commits and then explores the newest.

The feedback room uses the modules of one iteration (``context``, ``records``, ``run``,
``commit``) and nothing above them: the history verbs and the ``Repo`` facade import it,
never the other way round (but for ``Repo`` in annotations).
"""
