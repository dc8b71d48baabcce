import traceback
from pytest_llmeval.backends import hf
_o = hf.HFBackend.__init__
def _i(self, *a, **k):
    traceback.print_stack(limit=12)
    _o(self, *a, **k)
hf.HFBackend.__init__ = _i
