"""`hilite tune-judge`: from de-biased human ratings to a tuned A.2 validator (NHR 3.3, Appendix B).

`dataset` + `split` build the training set, `local_lora` tunes an open VLM with LoRA (TRL + PEFT),
`vertex` tunes Gemini on Vertex AI, `compare` scores held-out items with the base and tuned judges.
"""
