"""The pytest side of pytest-llmeval: plain objects that ``plugin.py``'s hooks hand off to.

Where a hook's work goes:

- ``options``: the ``--llm-*`` options and markers (``pytest_addoption``, ``pytest_configure``).
- ``session``: ``LLMEvalSession``, the run state of one pytest process, set up from the options
  (``pytest_configure``): the model under test, the judge, the cache identity, the baseline.
- ``preparation``: what every selected test will ask the model, generated up front in batches.
- ``collection``: case files as items, invalid cases as error items, group items.
- ``recording``: one test's phases (the running test), and its report's payload and sections.
- ``payload``: the one typed message a test's report carries from a worker to the controller.
- ``results``: the controller's book of what the reports said (outcomes, records, metrics).
- ``groups``: pass-rate and classification groups, judged after the run on the controller.
- ``run_assembly``: the run record (model, settings, versions, git commit, cases).
- ``finish``: writing the cache, the history, the baseline and the summaries.
- ``summary``: the terminal summary.
- ``xdist_bridge``: what the xdist controller and its workers exchange besides test reports.
"""
