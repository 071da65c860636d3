import FasterAPI
