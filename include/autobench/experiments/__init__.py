"""The experiments phase: hypotheses from the queue become paired runs, runs become a decision,
and a promotion becomes production's config.

Entry: :func:`autobench.experiments.sweep.cycle` (one sweep; the experiment_sweep DAG runs the
same steps from :mod:`.tasks`). Its steps: :mod:`.pick` (which hypothesis, within :mod:`.budget`),
:mod:`.backends` (where runs happen), :mod:`.runner` (one run, exactly once), :mod:`.decide`
(evidence → :mod:`.promotion`'s criteria, sized by :mod:`.seed_policies`; worded by
:mod:`.explain`, written by :mod:`.apply`), :mod:`.submission`, :mod:`.report`, :mod:`.defence`.
Everything on disk goes through the results store, :mod:`.results`.
"""
