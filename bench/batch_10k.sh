#!/bin/sh
# 10,000 small synthetic photos, --method gradcam on a small convolutional model: peak memory
# of the whole run (GNU time's maximum resident set), then the resume of the finished run.
# usage: sh bench/batch_10k.sh WORKDIR
set -e
work=${1:?usage: sh bench/batch_10k.sh WORKDIR}
python=${PYTHON:-python}
"$python" bench/batch_photos.py "$work" 10000
/usr/bin/time -v "$python" main.py batch "$work/photos" --out "$work/out" --model "$work/conv.keras" \
    --method gradcam --classes 1 2> "$work/run.log" > "$work/run.out" || true
grep -E "Maximum resident|Elapsed" "$work/run.log"
tail -1 "$work/run.out"
/usr/bin/time -v "$python" main.py batch "$work/photos" --out "$work/out" --model "$work/conv.keras" \
    --method gradcam --classes 1 2> "$work/resume.log"
grep -E "Maximum resident|Elapsed" "$work/resume.log"
